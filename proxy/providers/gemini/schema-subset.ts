// JSON Schema -> the OpenAPI 3.0 subset Gemini's `parameters` accepts. Used only when a backend asks
// for `parameters` (older models); `parametersJsonSchema` takes JSON Schema as is. Gemini refuses
// unknown keywords and an OBJECT with empty `properties`, so both are removed here.
const KEPT = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'items', 'minItems', 'maxItems',
  'properties', 'required', 'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern',
  'minimum', 'maximum', 'default', 'anyOf', 'propertyOrdering', 'example',
]);

export function geminiSchema(schema: unknown): Record<string, unknown> | undefined {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (!KEPT.has(key)) continue;
    if (key === 'type' && Array.isArray(value)) {
      // ["string","null"] -> type string, nullable
      const types = value.filter((t) => t !== 'null');
      if (types.length === 1) out.type = types[0];
      if (types.length !== value.length) out.nullable = true;
    } else if (key === 'properties' && typeof value === 'object' && value !== null) {
      const properties: Record<string, unknown> = {};
      for (const [name, sub] of Object.entries(value as Record<string, unknown>)) {
        const converted = geminiSchema(sub);
        if (converted) properties[name] = converted;
      }
      if (Object.keys(properties).length > 0) out.properties = properties;
    } else if (key === 'items') {
      const converted = geminiSchema(value);
      if (converted) out.items = converted;
    } else if (key === 'anyOf' && Array.isArray(value)) {
      out.anyOf = value.map(geminiSchema).filter((s) => s !== undefined);
    } else out[key] = value;
  }
  if (out.properties === undefined) delete out.required;
  return out;
}
