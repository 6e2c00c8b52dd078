/**
 * The located tree: a schema file's YAML content as plain data with a line and column on every node.
 * The loader reads only this shape. It comes either from the YAML parser (user schemas, edited built-ins)
 * or from the build-time snapshot of the built-in schemas, which spares start-up the YAML parser.
 */
export type Pos = readonly [line: number, col: number];

export type LNode =
  | { readonly t: 'map'; readonly p: Pos; readonly e: readonly LEntry[] }
  | { readonly t: 'seq'; readonly p: Pos; readonly e: readonly LNode[] }
  | {
      readonly t: 'scalar';
      readonly p: Pos;
      readonly k: 'str' | 'num' | 'bool' | 'null';
      readonly v: string | boolean | null;
      /** The text as written, without the quotes of a quoted scalar. */
      readonly src: string;
      /** Written in quotes: the text starts one column after `p`. */
      readonly q?: true;
    };

/** A mapping entry: the key as written (`0x10b` stays `0x10b`), where the key is, and the value. */
export type LEntry = readonly [key: string | null, keyPos: Pos, value: LNode | null];

