// stacktune: `pulumi up` on a stack = one fine-tuning experiment (see README / docs/contracts.md).
import * as pulumi from "@pulumi/pulumi";
import { createExperiment } from "./src/experiment";
import { refuseDemoPassphrase } from "./src/secrets-provider";
import { loadSettingsFromPulumiConfig } from "./src/settings";

export = async () => {
    // Before anything else: a secret under the public demo passphrase is readable by anyone.
    refuseDemoPassphrase({ stack: pulumi.getStack(), projectDir: __dirname, env: process.env });
    const { settings, secrets } = loadSettingsFromPulumiConfig();
    const experiment = await createExperiment("experiment", {
        settings,
        secrets,
        stack: pulumi.getStack(),
        repoRoot: __dirname,
        // The same variable the Python side honours: a Hub mirror, or a test server.
        ...(process.env.HF_ENDPOINT !== undefined ? { hubUrl: process.env.HF_ENDPOINT } : {}),
    });
    const o = experiment.outputs;
    return {
        hostAddress: o.hostAddress,
        experimentHash: o.experimentHash,
        renderedDigest: o.renderedDigest,
        // The model and dataset as set, and the commits this run trains at.
        inputs: o.inputs,
        model: o.model,
        status: o.status,
        metrics: o.metrics,
        phases: o.phases,
        estimatedCost: o.estimatedCost,
        // Run directory and each machine's connection (no secret): how `stacktune status|logs` reach the hosts.
        hostAccess: o.hostAccess,
        // Several machines: each one's address and job status.
        ...(experiment.machineJobs.length > 1 ? { machines: o.machines } : {}),
    };
};
