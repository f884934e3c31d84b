// A validation problem, located by a path such as `routes[0].backends[1].baseURL`.

export interface ConfigIssue {
  path: string;
  message: string;
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** The part of a schema library's error this reads: each issue's path and message. */
export interface SchemaError {
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>;
}

export function issuesFromZod(error: SchemaError, prefix: ReadonlyArray<PropertyKey> = []): ConfigIssue[] {
  return error.issues.map((issue) => ({ path: formatPath([...prefix, ...issue.path]), message: issue.message }));
}

export function formatIssues(issues: ReadonlyArray<ConfigIssue>): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('\n');
}
