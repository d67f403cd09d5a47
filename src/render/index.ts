import type { Settings } from "../settings";
import { targetOf } from "../targets";
import { renderAccelerateConfigs } from "./accelerate";
import { renderCloudInit } from "./cloudInit";
import { renderLaunchScript } from "./launch";
import { renderTrainingConfig } from "./training";

export { accelerateConfig, accelerateFileName, renderAccelerateConfig, renderAccelerateConfigs } from "./accelerate";
export {
    awsLoginUser,
    budgetMinutes,
    budgetWatchdogMarginSeconds,
    cloudInitConfig,
    driverTimeoutSeconds,
    hostPaths,
    renderCloudInit,
} from "./cloudInit";
export { generatedHeader, stackFilePath } from "./header";
export { type LaunchPhase, launchEnvironment, launchPhases, renderLaunchScript } from "./launch";
export {
    type DestinationClash,
    type HubDestinations,
    type ModelDestinations,
    describeClash,
    destinationKeys,
    findDestinationClashes,
    modelDestinations,
    ownDestinations,
} from "./destinations";
export { renderTrainingConfig, runDirPaths, smokeTest, trainingConfig } from "./training";

/** Names of the rendered files, as uploaded to the run directory and committed under rendered/. */
export const renderedFileNames = {
    accelerate: "accelerate.yaml",
    training: "training.yaml",
    launch: "launch.sh",
    cloudInit: "cloud-init.yaml",
} as const;

/**
 * Every file a stack renders, by file name, in a fixed order: the run-directory files (one
 * accelerate config per machine of a multi-host target), plus the instance user-data for aws.
 */
export function renderAll(settings: Settings, stackName: string): Map<string, string> {
    const files = new Map<string, string>([
        ...renderAccelerateConfigs(settings, stackName),
        [renderedFileNames.training, renderTrainingConfig(settings, stackName)],
        [renderedFileNames.launch, renderLaunchScript(settings, stackName)],
    ]);
    if (targetOf(settings.target).rendersUserData) {
        files.set(renderedFileNames.cloudInit, renderCloudInit(settings, stackName));
    }
    return files;
}
