// The Gemini generation a model name shows, which decides parts of the wire format (thinking
// control, thought signatures). Pure.

/** The major version in a model name (`gemini-3.1-pro-preview` is 3, `models/gemini-2.5-flash` 2); undefined for an alias such as gemini-flash-latest. */
export function geminiGeneration(model: string): number | undefined {
  const match = /(?:^|\/)gemini-(\d+)(?:\.\d+)?-/.exec(model);
  return match ? Number(match[1]) : undefined;
}
