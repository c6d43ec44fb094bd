// Reading a configuration: file or text → YAML/JSON document → validated Config. A file that
// cannot be read, is empty or does not parse is a ConfigError like any other mistake — never
// an empty configuration, which would tear every table down.

import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import YAML from 'yaml';
import { ConfigError, type ConfigIssue } from './errors.js';
import type { Config } from './types.js';
import { validateConfig } from './validate.js';

export type ConfigFormat = 'yaml' | 'json';

function formatOf(text: string, hint?: string): ConfigFormat {
  if (hint === '.json' || hint === 'json') return 'json';
  if (hint === '.yaml' || hint === '.yml' || hint === 'yaml') return 'yaml';
  return text.trimStart().startsWith('{') ? 'json' : 'yaml';
}

function parseDocument(text: string, format: ConfigFormat): unknown {
  if (text.trim() === '') throw new ConfigError([{ path: '', message: 'the configuration is empty' }]);
  if (format === 'json') {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ConfigError([{ path: '', message: `not valid JSON (truncated or half-written?): ${(e as Error).message}` }]);
    }
  }
  const doc = YAML.parseDocument(text, { version: '1.2', uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    const issues: ConfigIssue[] = doc.errors.map((e) => ({
      path: '',
      message: `not valid YAML (truncated or half-written?): ${e.message.split('\n')[0]}`,
    }));
    throw new ConfigError(issues);
  }
  if (doc.contents === null) throw new ConfigError([{ path: '', message: 'the configuration is empty (only comments)' }]);
  return doc.toJS({ maxAliasCount: 1000 });
}

/** Parses YAML or JSON text (format guessed from the first character when not given). */
export function parseConfig(text: string, format?: ConfigFormat): Config {
  return validateConfig(parseDocument(text, formatOf(text, format)));
}

/**
 * Reads and validates one router's configuration file (.yaml, .yml or .json). A YAML file must
 * end with a newline: a file cut off in the middle of a line is taken as half-written, because a
 * truncated YAML document is often still valid YAML. Write the file atomically (write a
 * temporary file, then rename it over the old one) and this never triggers.
 */
export async function loadConfigFile(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError([{ path: '', message: `cannot read ${path}: ${(e as Error).message}` }], path);
  }
  const format = formatOf(text, extname(path).toLowerCase());
  try {
    if (format === 'yaml' && text.trim() !== '' && !text.endsWith('\n')) {
      throw new ConfigError([{ path: '', message: 'the file does not end with a newline: it looks truncated (half-written?)' }]);
    }
    return validateConfig(parseDocument(text, format));
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.issues, path);
    throw e;
  }
}
