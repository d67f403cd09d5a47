import { z } from "zod";
import { settingsDefaults } from "./defaults";

const defaults = settingsDefaults.budget;

export const BudgetSchema = z.strictObject({
    /** Watchdog: the host powers off after this many hours even without the operator. @default 24 */
    maxHours: z.number().positive().max(720).default(defaults.maxHours),
    /** @default release-after-push */
    teardown: z.enum(["release-after-push", "keep"]).default(defaults.teardown),
    /** Keep the run directory on the host after success. @default false */
    keepRunDir: z.boolean().default(defaults.keepRunDir),
    /** Refuse to start when maxHours × the hourly price exceeds this (aws). */
    maxUsd: z.number().positive().max(1_000_000).optional(),
});

export type BudgetSettings = z.infer<typeof BudgetSchema>;
