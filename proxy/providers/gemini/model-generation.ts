// The Gemini version a model name shows, which decides parts of the wire format (thinking control,
// thought signatures). Pure.

/** The version in a model name (`gemini-3.1-pro-preview` is 3.1, `models/gemini-2.5-flash` 2.5); undefined for an alias (gemini-flash-latest), an experimental or a tuned model's name. */
export function geminiVersion(model: string): number | undefined {
  const match = /(?:^|\/)gemini-(\d+)(?:\.(\d+))?-/.exec(model);
  return match ? Number(`${match[1]}.${match[2] ?? 0}`) : undefined;
}
