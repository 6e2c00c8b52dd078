/**
 * The set of schemas kimg knows: loading by id or path, listing. Which of them describe an input is
 * detection's job (../detect/detect.ts), which runs engines and so sits above this layer.
 */
import type { SchemaDef } from '../types.js';
import { SchemaLoader, type LoaderOptions } from './loader.js';

export class SchemaRegistry {
  readonly loader: SchemaLoader;
  private schemaIds: readonly string[] | null = null;

  constructor(options: LoaderOptions = {}) {
    this.loader = new SchemaLoader(options);
  }

  get(idOrPath: string): SchemaDef {
    return this.loader.load(idOrPath);
  }

  /** Every schema in the search path (loading all of them: use for listing and detection only). */
  all(): SchemaDef[] {
    return this.loader.listIds().map((id) => this.loader.load(id));
  }

  /** Schema ids in the search path, listed once (a batch detects thousands of layers). */
  ids(): readonly string[] {
    this.schemaIds ??= this.loader.listIds();
    return this.schemaIds;
  }
}
