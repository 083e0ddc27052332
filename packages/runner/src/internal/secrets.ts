// Names whose values must never reach sessions.json, logs or prompts.
const SECRET_NAMES = /(?:KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)$/i;

/** The values of secret-looking variables in `env`, longest first (so overlaps mask fully). */
export function secretValues(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter(
      ([name, value]) => SECRET_NAMES.test(name) && typeof value === "string" && value.length >= 8,
    )
    .map(([, value]) => value as string)
    .sort((a, b) => b.length - a.length);
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("***");
  return out;
}
