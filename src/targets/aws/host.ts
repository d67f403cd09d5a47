/** The aws target's host: one AwsGpuHost (instances, network, checkpoint bucket) for every machine. */
import { AwsGpuHost } from "../../hosts/aws";
import { awsLoginUser, renderedFileNames } from "../../render";
import type { AwsTarget } from "../../settings";
import type { HostFactory } from "../hostTypes";

export const createAwsHosts: HostFactory<AwsTarget> = ({ name, plan, secrets, runRoot, parent, runtime, python }) => {
    const { settings } = plan;
    const target = settings.target;
    // The settings refuse an aws target without the key (rule aws-needs-private-key).
    if (secrets.sshPrivateKey === undefined)
        throw new TypeError("the aws target reached the program without its SSH key");
    const host = new AwsGpuHost(
        name,
        {
            region: target.region,
            instanceType: target.instanceType,
            ...(target.amiId !== undefined ? { amiId: target.amiId } : {}),
            spot: {
                enabled: target.spot.enabled,
                ...(target.spot.maxPrice !== undefined ? { maxPrice: target.spot.maxPrice } : {}),
            },
            rootVolumeGb: target.rootVolumeGb,
            sshCidr: target.sshCidr,
            allowOpenSsh: target.allowOpenSsh,
            publicKey: target.publicKey,
            privateKey: secrets.sshPrivateKey,
            sshUser: awsLoginUser,
            checkpointBucket: target.checkpointBucket,
            checkpointPrefix: `${plan.stack}/${plan.experimentHash.slice(0, 16)}`,
            deleteCheckpointsOnDestroy: settings.checkpointing.deleteStoreOnDestroy,
            userData: plan.renderedFiles.get(renderedFileNames.cloudInit) ?? "",
            runtime,
            python,
            runRoot,
            tags: { "stacktune:stack": plan.stack, "stacktune:experiment": plan.experimentHash.slice(0, 16) },
            hosts: target.hosts,
            ...(target.availabilityZone !== undefined ? { availabilityZone: target.availabilityZone } : {}),
            rendezvousPort: settings.distributed.rendezvousPort,
        },
        { parent },
    );
    return {
        primary: host,
        jobHosts: host.jobHosts,
        // Spot preemption and periodic sync: each machine's checkpoints go to its prefix of the bucket.
        ...(host.checkpointStores !== undefined ? { checkpointStores: host.checkpointStores } : {}),
    };
};
