import { z } from "zod";
import { settingsDefaults } from "./defaults";

export const ChatSchema = z.strictObject({
    /** Chat encoding of the turns (`chat_format`). @default llama3 */
    format: z.enum(["llama3"]).default(settingsDefaults.chat.format),
});

export type ChatSettings = z.infer<typeof ChatSchema>;
