/**
 * The kimg schema language's keywords, each declared once: where it may appear, its value as JSON Schema
 * (type, editor description, error message). Everything else is derived from this table:
 *   - the loader's allowed keys per construct and per field kind (`constructKeys`, `fieldKeysFor`);
 *   - docs/kimg-schema.json, the JSON Schema ajv validates schema files with and editors use
 *     (`buildJsonSchema`; `npm run build` writes it, test/keywords.test.ts checks the committed file is
 *     the generated one).
 * A new keyword is one entry here (plus its meaning in the loader).
 */

/** A piece of JSON Schema. */
export type Fragment = { readonly [key: string]: unknown };

/** A construct: its JSON Schema shape (without `properties`) and its keywords. */
export interface Construct {
  readonly shape: Fragment;
  readonly keywords: { readonly [name: string]: Fragment };
}

/** Value types shared by keywords (`#/definitions/<name>`). */
export const VALUE_TYPES: { readonly [name: string]: Fragment } = {
  "name": {
    "description": "A name: lower snake case (`[a-z][a-z0-9_]*`); a leading `_` is reserved for the built-in names; `value`, `prototype`, `constructor` (every property of Object.prototype) and the keywords `and`, `or`, `not`, `true`, `false`, `null` are reserved.",
    "type": "string",
    "pattern": "^[a-z][a-z0-9_]*$",
    "patternErrorMessage": "lower snake_case (a-z, 0-9, _; not starting with _)",
    "not": {
      "enum": [
        "constructor",
        "prototype",
        "value",
        "and",
        "or",
        "not",
        "true",
        "false",
        "null"
      ]
    }
  },
  "schemaId": {
    "description": "A schema id: `[a-z][a-z0-9_-]*`, the file name without `.yaml`.",
    "type": "string",
    "pattern": "^[a-z][a-z0-9_-]*$",
    "patternErrorMessage": "lower case letters, digits, - and _, starting with a letter"
  },
  "typeRef": {
    "description": "A type name, or `alias.type` for a type of an imported schema.",
    "type": "string"
  },
  "endian": {
    "description": "Byte order: `le` (little-endian) or `be` (big-endian).",
    "type": "string",
    "enum": [
      "le",
      "be"
    ]
  },
  "severity": {
    "description": "`error` (default) or `warning`.",
    "type": "string",
    "enum": [
      "error",
      "warning"
    ]
  },
  "expression": {
    "description": "An expression (written as a YAML scalar; quote it when it starts with a character YAML treats specially or contains `: ` or ` #`). See docs/schema-dsl.md#expressions.",
    "type": [
      "string",
      "number",
      "boolean",
      "null"
    ]
  },
  "template": {
    "description": "Text with holes: `${expr}` or `${expr:format}` (formats hex, dec, oct, size, raw); `$${` is a literal `${`.",
    "type": "string"
  },
  "integer": {
    "description": "An integer: decimal, `0x`, `0b` or `0o`, with `_` separators, exact at any size.",
    "type": [
      "integer",
      "string"
    ],
    "pattern": "^-?(0x_*[0-9a-fA-F][0-9a-fA-F_]*|0b_*[01][01_]*|0o_*[0-7][0-7_]*|_*[0-9][0-9_]*)$",
    "patternErrorMessage": "an integer (decimal, 0x, 0b or 0o)"
  },
  "byte": {
    "description": "A byte value, 0..255.",
    "type": [
      "integer",
      "string"
    ],
    "pattern": "^-?(0x_*[0-9a-fA-F][0-9a-fA-F_]*|0b_*[01][01_]*|0o_*[0-7][0-7_]*|_*[0-9][0-9_]*)$",
    "minimum": 0,
    "maximum": 255
  },
  "bytes": {
    "description": "Bytes: a YAML string whose characters are bytes (double-quoted escapes \"\\x7fELF\", \"MZ\\0\\0\" work), a list of byte values (`[0x1f, 0x8b]`), or `{ hex: \"1f 8b\" }`.",
    "type": [
      "string",
      "array",
      "object"
    ],
    "pattern": "^[\\u0000-\\u00ff]*$",
    "patternErrorMessage": "each character must be a single byte (\\x00-\\xff); use \\xNN escapes or a list",
    "items": {
      "$ref": "#/definitions/byte"
    },
    "required": [
      "hex"
    ],
    "additionalProperties": false,
    "properties": {
      "hex": {
        "description": "Pairs of hex digits; whitespace is ignored.",
        "type": "string",
        "pattern": "^(\\s*[0-9a-fA-F]\\s*[0-9a-fA-F])*\\s*$",
        "patternErrorMessage": "hex must be pairs of hex digits"
      }
    }
  },
  "enum": {
    "description": "Mapping integer value → member name. Member names may be any string (data); only identifiers can be referred to in expressions (`enum::MEMBER`).",
    "type": "object",
    "propertyNames": {
      "pattern": "^(0x_*[0-9a-fA-F][0-9a-fA-F_]*|0b_*[01][01_]*|0o_*[0-7][0-7_]*|_*[0-9][0-9_]*)$",
      "patternErrorMessage": "an integer key (decimal, 0x, 0b or 0o)"
    },
    "additionalProperties": {
      "description": "A member name.",
      "type": "string"
    }
  },
  "flagSet": {
    "description": "Mapping mask → flag name. A flag is listed when all the bits of its mask are set.",
    "type": "object",
    "propertyNames": {
      "pattern": "^(0x_*[0-9a-fA-F][0-9a-fA-F_]*|0b_*[01][01_]*|0o_*[0-7][0-7_]*|_*[0-9][0-9_]*)$",
      "patternErrorMessage": "an integer key (decimal, 0x, 0b or 0o)",
      "not": {
        "pattern": "^(0[xbo])?[0_]*$"
      },
      "errorMessage": "flag mask must be positive"
    },
    "additionalProperties": {
      "description": "A flag name.",
      "type": "string"
    }
  }
};

/** The top level of a schema file. */
export const SCHEMA_FILE: Construct = {
  shape: {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "kimg schema file",
    "description": "A kimg schema: a YAML file describing a binary format (its structs, fields, enums, flag sets, checks, detection and regions). Reference: docs/schema-dsl.md.",
    "type": "object",
    "additionalProperties": false,
    "required": [
      "kimg",
      "id",
      "title",
      "root",
      "types"
    ]
  },
  keywords: {
    "$schema": {
      "description": "Ignored by kimg (for editors' YAML language servers)."
    },
    "kimg": {
      "description": "Required: the schema language version: `1`.",
      "type": [
        "integer",
        "string"
      ],
      "pattern": "^(0[xbo])?[0_]*1_*$",
      "minimum": 1,
      "maximum": 1
    },
    "id": {
      "description": "Required: the schema's id: lower case letters, digits, `-` and `_`, starting with a letter (`linux-zboot`). Name the file `<id>.yaml`: schemas are found by file name.",
      "$ref": "#/definitions/schemaId"
    },
    "title": {
      "description": "Required: one line naming the format (shown by `kimg schemas`, `dump`, in errors).",
      "type": "string"
    },
    "description": {
      "description": "Free text.",
      "type": "string"
    },
    "endian": {
      "description": "`le` (default) or `be`: the byte order of integers that do not say theirs.",
      "$ref": "#/definitions/endian"
    },
    "imports": {
      "description": "Mapping alias → schema id (or relative path): other schemas whose types and enums this one uses as `alias.type`, `alias.enum`, `alias.enum::MEMBER`. Imports may not leave the schema search path or the importing file's directory unless explicitly allowed.",
      "type": "object",
      "propertyNames": {
        "$ref": "#/definitions/name"
      },
      "additionalProperties": {
        "description": "A schema id (searched like any schema) or a relative path (`./lib/common.yaml`, resolved from the importing file).",
        "type": "string"
      }
    },
    "root": {
      "description": "Required: the name of the type parsed at offset 0 (or a local `alias.type`).",
      "$ref": "#/definitions/typeRef"
    },
    "detect": {
      "$ref": "#/definitions/detect"
    },
    "summary": {
      "description": "A template: the one-line description `kimg info` prints for the layer, evaluated on the root struct (`${expr}` or `${expr:hex|dec|size|raw}` holes).",
      "$ref": "#/definitions/template"
    },
    "enums": {
      "description": "Mapping enum name → { value: MEMBER }. Keys are integers (decimal, 0x, 0b, 0o); in expressions a member is `enum::MEMBER`.",
      "type": "object",
      "propertyNames": {
        "$ref": "#/definitions/name"
      },
      "additionalProperties": {
        "$ref": "#/definitions/enum"
      }
    },
    "flags": {
      "description": "Mapping flag-set name → { mask: FLAG }. Masks may have several bits.",
      "type": "object",
      "propertyNames": {
        "$ref": "#/definitions/name"
      },
      "additionalProperties": {
        "$ref": "#/definitions/flagSet"
      }
    },
    "types": {
      "description": "Required: mapping type name → type (a struct description).",
      "type": "object",
      "propertyNames": {
        "$ref": "#/definitions/name"
      },
      "additionalProperties": {
        "$ref": "#/definitions/type"
      }
    },
    "regions": {
      "description": "The parts of a layer that hold something else (a compressed payload, a PE section). Their expressions see the root struct's fields.",
      "type": "array",
      "items": {
        "$ref": "#/definitions/region"
      }
    },
    "scans": {
      "description": "Strings to look for anywhere in a layer's content (the kernel's version banner).",
      "type": "array",
      "items": {
        "$ref": "#/definitions/scan"
      }
    },
    "facts": {
      "description": "Mapping fact name → expression on the root: what this layer states about the boot image (`machine`: the CPU it is for). Every layer stating a fact must agree with the layers around it; a null value states nothing.",
      "type": "object",
      "propertyNames": {
        "$ref": "#/definitions/name"
      },
      "additionalProperties": {
        "$ref": "#/definitions/expression"
      }
    }
  },
};

/** The other constructs with keywords, by their definition name. */
export const CONSTRUCTS = {
  type: {
    shape: {
      "description": "A struct description: its fields, parsed in order from a cursor.",
      "type": "object",
      "additionalProperties": false,
      "required": [
        "fields"
      ]
    },
    keywords: {
      "doc": {
        "description": "Free text.",
        "type": "string"
      },
      "endian": {
        "description": "`le` or `be`: byte order for this type's integers (default: the schema's `endian`).",
        "$ref": "#/definitions/endian"
      },
      "endian_expr": {
        "description": "Expression giving `\"le\"` or `\"be\"`, evaluated as the struct starts (so from `_parent`, `_root` or positioned reads): the byte order of this type's integers that do not say theirs. ELF's EI_DATA: `'_root.ei_data == 2 ? \"be\" : \"le\"'`. Not with `endian`.",
        "$ref": "#/definitions/expression"
      },
      "fields": {
        "description": "Required: the list of fields, parsed in order.",
        "type": "array",
        "items": {
          "$ref": "#/definitions/field"
        }
      },
      "checks": {
        "description": "Assertions run after all the fields are parsed.",
        "type": "array",
        "items": {
          "$ref": "#/definitions/check"
        }
      }
    },
  },
  check: {
    shape: {
      "description": "An assertion: `{ id, assert, message, severity }`. A failed `error` check stops the parse (`assertion`); a failed `warning` is recorded.",
      "type": "object",
      "additionalProperties": false,
      "required": [
        "id",
        "assert",
        "message"
      ]
    },
    keywords: {
      "id": {
        "description": "The check's name (lower snake_case), unique in its type.",
        "$ref": "#/definitions/name"
      },
      "assert": {
        "description": "Expression that must hold.",
        "$ref": "#/definitions/expression"
      },
      "message": {
        "description": "Template: the message when the check fails.",
        "$ref": "#/definitions/template"
      },
      "severity": {
        "description": "`error` (default) or `warning`.",
        "$ref": "#/definitions/severity"
      }
    },
  },
  detect: {
    shape: {
      "description": "How to recognise the format: every `magic` must match, then the root type is parsed, then `when` must hold. Schemas without `detect:` are used only when named.",
      "type": "object",
      "additionalProperties": false
    },
    keywords: {
      "magic": {
        "description": "Byte strings at fixed offsets that must all match (cheap, tested first).",
        "type": "array",
        "items": {
          "type": "object",
          "additionalProperties": false,
          "required": [
            "at",
            "bytes"
          ],
          "properties": {
            "at": {
              "description": "Offset of the bytes in the layer (not negative).",
              "type": [
                "integer",
                "string"
              ],
              "pattern": "^-?(0x_*[0-9a-fA-F][0-9a-fA-F_]*|0b_*[01][01_]*|0o_*[0-7][0-7_]*|_*[0-9][0-9_]*)$",
              "minimum": 0
            },
            "bytes": {
              "description": "The bytes expected there (any of the `const` forms).",
              "$ref": "#/definitions/bytes"
            }
          }
        }
      },
      "when": {
        "description": "Expression over the root's fields that must hold.",
        "$ref": "#/definitions/expression"
      },
      "confirm": {
        "description": "Field paths of the root that still establish the format's identity after the magic (PE's signature at e_lfanew). A parse failing on one of them means the input is not this format; any other failure after the magic matched is a damaged match, reported as an error.",
        "type": "array",
        "items": {
          "type": "string",
          "pattern": "^[a-z_][a-z0-9_]*(\\.[a-z_][a-z0-9_]*)*$"
        }
      },
      "refines": {
        "description": "Schema ids this schema is a more precise reading of (matches are ordered most refined first).",
        "type": "array",
        "items": {
          "type": "string"
        }
      }
    },
  },
  region: {
    shape: {
      "description": "A part of the layer holding something else: a compressed payload, a PE section, an initramfs.",
      "type": "object",
      "additionalProperties": false,
      "required": [
        "id"
      ],
      "anyOf": [
        {
          "required": [
            "offset",
            "size"
          ]
        },
        {
          "required": [
            "markers"
          ]
        }
      ],
      "dependencies": {
        "codecs": [
          "codec"
        ]
      },
      "if": {
        "required": [
          "main"
        ],
        "properties": {
          "main": {
            "const": true
          }
        },
        "not": {
          "required": [
            "each"
          ]
        }
      },
      "else": {
        "properties": {
          "checks": {
            "not": {},
            "errorMessage": "region checks run when the pipeline follows the region: only on the 'main: true' region"
          }
        }
      }
    },
    keywords: {
      "id": {
        "description": "Required: the region's name (lower snake_case).",
        "$ref": "#/definitions/name"
      },
      "doc": {
        "description": "Free text.",
        "type": "string"
      },
      "each": {
        "description": "Expression giving an array: a family of regions, one per element, `_` being the element in the other expressions.",
        "$ref": "#/definitions/expression"
      },
      "name": {
        "description": "Expression: the region's name (in a family: `_.name`), by which `kimg extract --section NAME` finds it on any layer.",
        "$ref": "#/definitions/expression"
      },
      "if": {
        "description": "Expression: the region exists only when it holds.",
        "$ref": "#/definitions/expression"
      },
      "offset": {
        "description": "Expression, where the region starts in the layer (required without `markers`; with them, where the search starts, default 0).",
        "$ref": "#/definitions/expression"
      },
      "size": {
        "description": "Expression, the size of the region (required without `markers`; with them, the size of the searched range, default to the layer's end).",
        "$ref": "#/definitions/expression"
      },
      "markers": {
        "description": "The region is found by scanning the layer: the bytes after the first `start` marker and before the first `end` marker that follows it (IKCONFIG's `IKCFG_ST` ... `IKCFG_ED`). No `start`: the region is absent; a `start` without an `end`: an error.",
        "type": "object",
        "additionalProperties": false,
        "required": [
          "start",
          "end"
        ],
        "properties": {
          "start": {
            "description": "The bytes just before the region (any of the `const` forms).",
            "$ref": "#/definitions/bytes"
          },
          "end": {
            "description": "The bytes just after the region.",
            "$ref": "#/definitions/bytes"
          }
        }
      },
      "main": {
        "description": "`true`: the layer the pipeline follows (at most one per schema; not with `each`).",
        "type": "boolean"
      },
      "codec": {
        "description": "Expression giving the codec's name as the header spells it; without it the region is stored as is.",
        "$ref": "#/definitions/expression"
      },
      "codec_by_magic": {
        "description": "`true`: the header does not name the codec (an x86 bzImage); the pipeline finds it by the payload's magic, as the codec plugins recognise it. Not with `codec`.",
        "type": "boolean"
      },
      "codecs": {
        "description": "Mapping header name → codec plugin name (`zstd22: zstd`); without it the header name is the plugin name. A name mapped to null means stored as is (`none: null`). Needs `codec`.",
        "type": "object",
        "additionalProperties": {
          "description": "A codec plugin (gzip, zstd, xz, lzma, lz4-legacy, lzop, bzip2: `kimg codecs`), or null for stored data.",
          "type": [
            "string",
            "null"
          ]
        }
      },
      "chain": {
        "description": "`true`: the region is a chain of segments (an initramfs): each is either stored, read by an `inner` schema (its size is what that schema's root reads), or a stream a codec recognises by its magic, decoded and read the same way; zero bytes between segments are padding. Each segment is a layer. Not with `codec`, `codec_by_magic`, `expected_size` or `main`.",
        "type": "boolean"
      },
      "expected_size": {
        "description": "Expression: the decoded size the file claims; `null` skips the check.",
        "$ref": "#/definitions/expression"
      },
      "expected_size_modulo": {
        "description": "Integer: the claim is stored modulo this (`0x100000000` for gzip's ISIZE).",
        "$ref": "#/definitions/integer"
      },
      "inner": {
        "description": "What the region may hold: the first candidate whose `when` holds (or that has none) is chosen. Without `inner`, any format. A region other than the main one is followed (its content becomes a layer) only when it has `inner` or `chain`.",
        "type": "array",
        "items": {
          "type": "object",
          "additionalProperties": false,
          "required": [
            "schema"
          ],
          "properties": {
            "schema": {
              "description": "The id of a schema in the search path (an id, not a path: a region cannot name a file), or `*`: any format kimg recognises (every detector is tried, and a stream is found by its codec's magic), e.g. as the last, fallback candidate.",
              "anyOf": [
                {
                  "$ref": "#/definitions/schemaId"
                },
                {
                  "const": "*"
                }
              ]
            },
            "when": {
              "description": "Expression over the root's fields.",
              "$ref": "#/definitions/expression"
            }
          }
        }
      },
      "checks": {
        "description": "Checks of the main region (same form as type checks), run before it is followed. Only on the `main: true` region (not with `each`).",
        "type": "array",
        "items": {
          "$ref": "#/definitions/check"
        }
      }
    },
  },
  scan: {
    shape: {
      "description": "A string to look for in the content: the first occurrence of `prefix`, up to `terminator` or `max_length` bytes.",
      "type": "object",
      "additionalProperties": false,
      "required": [
        "id",
        "prefix"
      ]
    },
    keywords: {
      "id": {
        "description": "The scan's name (lower snake_case).",
        "$ref": "#/definitions/name"
      },
      "prefix": {
        "description": "The bytes that start the string (any of the `const` forms).",
        "$ref": "#/definitions/bytes"
      },
      "terminator": {
        "description": "The byte that ends the string (default 0).",
        "$ref": "#/definitions/integer"
      },
      "max_length": {
        "description": "At most this many bytes are reported (default 256).",
        "$ref": "#/definitions/integer"
      },
      "short_words": {
        "description": "How many words of the string one-line reports show (`kimg scan`: `Linux version 6.1.0-13-arm64` is 3); default: all of it.",
        "$ref": "#/definitions/integer"
      }
    },
  },
  bitRange: {
    shape: {
      "description": "A named range of bits of an integer field: a 1-bit range without enum is a boolean, a wider one (or one with `enum`) a number.",
      "type": "object",
      "additionalProperties": false,
      "required": [
        "id",
        "bit"
      ]
    },
    keywords: {
      "id": {
        "description": "The range's name (lower snake_case).",
        "$ref": "#/definitions/name"
      },
      "bit": {
        "description": "The lowest bit number of the range.",
        "type": [
          "integer",
          "string"
        ],
        "pattern": "^-?(0x_*[0-9a-fA-F][0-9a-fA-F_]*|0b_*[01][01_]*|0o_*[0-7][0-7_]*|_*[0-9][0-9_]*)$",
        "minimum": 0
      },
      "width": {
        "description": "Number of bits (default 1).",
        "type": [
          "integer",
          "string"
        ],
        "pattern": "^-?(0x_*[0-9a-fA-F][0-9a-fA-F_]*|0b_*[01][01_]*|0o_*[0-7][0-7_]*|_*[0-9][0-9_]*)$",
        "minimum": 1
      },
      "enum": {
        "description": "An enum naming the range's values.",
        "type": "string"
      },
      "doc": {
        "description": "Free text.",
        "type": "string"
      }
    },
  },
} as const satisfies { readonly [name: string]: Construct };

/** Field kinds as the JSON Schema tells them apart (the loader's integer kind is int + intSuffix, string is str + strz). */
export type FieldKindName = 'value' | 'int' | 'intSuffix' | 'bytes' | 'str' | 'strz' | 'switch' | 'struct';
export const FIELD_KIND_DEFINITIONS: { readonly [K in FieldKindName]: string } = {
  "value": "valueField",
  "int": "intField",
  "intSuffix": "intSuffixField",
  "bytes": "bytesField",
  "str": "strField",
  "strz": "strzField",
  "switch": "switchField",
  "struct": "structField"
};

/** Each field kind's JSON Schema shape (without `properties`). */
export const FIELD_KIND_SHAPES: { readonly [K in FieldKindName]: Fragment } = {
  value: {
    "description": "A derived field (`value:`): reads no bytes, so `type`, `at`, `count` and `repeat` do not apply.",
    "type": "object",
    "additionalProperties": false
  },
  int: {
    "description": "An integer field (`u8`…`u64`, `s8`…`s64`).",
    "type": "object",
    "additionalProperties": false
  },
  intSuffix: {
    "description": "An integer field whose type says its byte order (`u32be`, `s16le`): no `endian`.",
    "type": "object",
    "additionalProperties": false
  },
  bytes: {
    "description": "A `bytes` field: `size` bytes (or as many as its `const` has).",
    "type": "object",
    "additionalProperties": false,
    "if": {
      "not": {
        "required": [
          "const"
        ]
      }
    },
    "then": {
      "required": [
        "size"
      ]
    }
  },
  str: {
    "description": "A `str` field: `size` bytes as a string (NULs included).",
    "type": "object",
    "additionalProperties": false,
    "required": [
      "size"
    ]
  },
  strz: {
    "description": "A `strz` field: a NUL-terminated string (within `size` bytes when given).",
    "type": "object",
    "additionalProperties": false
  },
  switch: {
    "description": "A `switch` field: `on` chooses the type among `cases` (else `default`).",
    "type": "object",
    "additionalProperties": false,
    "required": [
      "cases",
      "on"
    ]
  },
  struct: {
    "description": "A struct field: parses the named type (`size`: inside a sub-region of that many bytes).",
    "type": "object",
    "additionalProperties": false
  },
};

/** The keys that make a field an array; a field takes at most one of them. */
export const REPEAT_KEYS = ['count', 'repeat', 'until'] as const;

/** JSON Schema clauses: a field that has one of the keys has none of the later ones. */
function exclusive(keys: readonly string[]): Json[] {
  const message = `use one of ${quotedList(keys)}, not several`;
  return keys.slice(0, -1).map((key, i) => ({
    "if": { "required": [key] },
    "then": { "properties": Object.fromEntries(keys.slice(i + 1).map((other) => [other, { "not": {}, "errorMessage": message }])) },
  }));
}

/** A field, before its kind is known, and the dispatch to the kinds that read bytes. */
export const FIELD_SHAPE: Fragment = {
  "description": "A field: an `id` and either a `type` (it reads bytes) or a `value` (it is computed).",
  "type": "object",
  "additionalProperties": false,
  "required": [
    "id"
  ],
  "allOf": [
    ...exclusive(REPEAT_KEYS),
    {
      "if": {
        "required": [
          "value"
        ]
      },
      "then": {
        "$ref": "#/definitions/valueField"
      },
      "else": {
        "$ref": "#/definitions/typedField"
      }
    }
  ]
};
export const TYPED_FIELD_SHAPE: Fragment = {
  "description": "A field that reads bytes: the keys it may have depend on its `type`.",
  "required": [
    "type"
  ],
  "allOf": [
    {
      "if": {
        "required": [
          "type"
        ],
        "properties": {
          "type": {
            "type": "string",
            "pattern": "^[us](8|16|32|64)$"
          }
        }
      },
      "then": {
        "$ref": "#/definitions/intField"
      }
    },
    {
      "if": {
        "required": [
          "type"
        ],
        "properties": {
          "type": {
            "type": "string",
            "pattern": "^[us](8|16|32|64)(le|be)$"
          }
        }
      },
      "then": {
        "$ref": "#/definitions/intSuffixField"
      }
    },
    {
      "if": {
        "required": [
          "type"
        ],
        "properties": {
          "type": {
            "const": "bytes"
          }
        }
      },
      "then": {
        "$ref": "#/definitions/bytesField"
      }
    },
    {
      "if": {
        "required": [
          "type"
        ],
        "properties": {
          "type": {
            "const": "str"
          }
        }
      },
      "then": {
        "$ref": "#/definitions/strField"
      }
    },
    {
      "if": {
        "required": [
          "type"
        ],
        "properties": {
          "type": {
            "const": "strz"
          }
        }
      },
      "then": {
        "$ref": "#/definitions/strzField"
      }
    },
    {
      "if": {
        "required": [
          "type"
        ],
        "properties": {
          "type": {
            "const": "switch"
          }
        }
      },
      "then": {
        "$ref": "#/definitions/switchField"
      }
    },
    {
      "if": {
        "required": [
          "type"
        ],
        "properties": {
          "type": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)?$",
            "not": {
              "anyOf": [
                {
                  "pattern": "^[us](8|16|32|64)(le|be)?$"
                },
                {
                  "enum": [
                    "bytes",
                    "str",
                    "strz",
                    "switch"
                  ]
                }
              ]
            }
          }
        }
      },
      "then": {
        "$ref": "#/definitions/structField"
      }
    }
  ]
};

/** Field kinds by what they do: every kind, and the kinds that read bytes (all but `value`). */
const ALL_KINDS: readonly FieldKindName[] = ['value', 'int', 'intSuffix', 'bytes', 'str', 'strz', 'switch', 'struct'];
const READING_KINDS: readonly FieldKindName[] = ALL_KINDS.filter((k) => k !== 'value');

interface FieldKeyword {
  /** The keyword's value in general (`#/definitions/field`). */
  readonly schema: Fragment;
  /** The field kinds it applies to. */
  readonly kinds: readonly FieldKindName[];
  /** A kind's definition may narrow the value (a bytes field's `const` is bytes); `{}` otherwise. */
  readonly narrowed?: { readonly [K in FieldKindName]?: Fragment };
}

/** Every field keyword, once. */
export const FIELD_KEYWORDS: { readonly [name: string]: FieldKeyword } = {
  "id": {
    schema: {
      "description": "Required: the field's name: lower snake_case (`[a-z][a-z0-9_]*`), unique in its type; not a reserved name (`value`, `constructor`, `prototype`, keywords).",
      "$ref": "#/definitions/name"
    },
    kinds: ALL_KINDS,
  },
  "doc": {
    schema: {
      "description": "Free text (shown nowhere else than the schema; keep it useful).",
      "type": "string"
    },
    kinds: ALL_KINDS,
  },
  "type": {
    schema: {
      "description": "`u8` … `u64`, `s8` … `s64` (optionally `le`/`be` suffixed), `bytes`, `str`, `strz`, `switch`, a type name, or `alias.type` (a type of an imported schema).",
      "type": "string",
      "pattern": "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)?$",
      "patternErrorMessage": "u8..u64, s8..s64 (optionally le/be), bytes, str, strz, switch, or a type name"
    },
    kinds: READING_KINDS,
  },
  "size": {
    schema: {
      "description": "Expression: number of bytes. For a struct or switch field, the struct is parsed inside a sub-region of exactly that many bytes.",
      "$ref": "#/definitions/expression"
    },
    kinds: ['bytes', 'str', 'strz', 'switch', 'struct'],
  },
  "at": {
    schema: {
      "description": "Expression: where the field starts, relative to the current region (the layer, or the enclosing sized sub-region); the cursor continues after the field.",
      "$ref": "#/definitions/expression"
    },
    kinds: READING_KINDS,
  },
  "if": {
    schema: {
      "description": "Expression: the field is parsed only when it holds; otherwise its value is `null` and it reads nothing.",
      "$ref": "#/definitions/expression"
    },
    kinds: ALL_KINDS,
  },
  "count": {
    schema: {
      "description": "Expression: the field is an array of that many elements.",
      "$ref": "#/definitions/expression"
    },
    kinds: READING_KINDS,
  },
  "repeat": {
    schema: {
      "description": "`to-end`: the field is an array of elements up to the end of the current region.",
      "type": "string",
      "enum": [
        "to-end"
      ]
    },
    kinds: READING_KINDS,
  },
  "until": {
    schema: {
      "description": "Expression: the field is an array read element by element until the expression holds on the element just read (`_` is the element, `_index` its index); that element is the last. An element that reads no bytes is an error, and so is the end of the region before the condition held.",
      "$ref": "#/definitions/expression"
    },
    kinds: READING_KINDS,
  },
  "endian": {
    schema: {
      "description": "`le` or `be`: the byte order of this integer (only for integer types without a `le`/`be` suffix).",
      "$ref": "#/definitions/endian"
    },
    kinds: ['int'],
  },
  "enum": {
    schema: {
      "description": "Name of an enum (`name` or `alias.name`) naming the values. The value stays the raw number; JSON shows `{\"value\": 3, \"name\": \"UNIX\"}`.",
      "type": "string"
    },
    kinds: ['value', 'int', 'intSuffix'],
  },
  "flags": {
    schema: {
      "description": "Name of a flag set (`name` or `alias.name`); JSON shows `{\"value\", \"flags\": [names of every mask whose bits are all set], \"unknown\"}`.",
      "type": "string"
    },
    kinds: ['value', 'int', 'intSuffix'],
  },
  "bits": {
    schema: {
      "description": "Splits the integer into named bit ranges: each `{ id, bit, width (default 1), enum, doc }`, `bit` being the lowest bit number.",
      "type": "array",
      "items": {
        "$ref": "#/definitions/bitRange"
      }
    },
    kinds: ['int', 'intSuffix'],
  },
  "const": {
    schema: {
      "description": "The value the field must have: an integer for integers; for `bytes` a string of byte characters (\"\\x7fELF\"), a list of byte values or `{ hex: \"1f 8b\" }`; a string for `str`/`strz`."
    },
    kinds: ['int', 'intSuffix', 'bytes', 'str', 'strz'],
    narrowed: {
      "int": {
        "$ref": "#/definitions/integer"
      },
      "intSuffix": {
        "$ref": "#/definitions/integer"
      },
      "bytes": {
        "$ref": "#/definitions/bytes"
      },
      "str": {
        "type": "string"
      },
      "strz": {
        "type": "string"
      }
    },
  },
  "severity": {
    schema: {
      "description": "With `const`: `error` (default: a mismatch stops the parse) or `warning` (recorded as a failed check, parsing goes on).",
      "$ref": "#/definitions/severity"
    },
    kinds: ['int', 'intSuffix', 'bytes', 'str', 'strz'],
  },
  "message": {
    schema: {
      "description": "With `const`: a template used instead of the default message (the value found is `_` and the field's own name).",
      "$ref": "#/definitions/template"
    },
    kinds: ['int', 'intSuffix', 'bytes', 'str', 'strz'],
  },
  "align": {
    schema: {
      "description": "Padding: after the field, the cursor moves on to the next multiple of this many bytes, counted from the start of the current region (cpio's 4-byte alignment of names and data). The padding must lie inside the region.",
      "$ref": "#/definitions/integer"
    },
    kinds: READING_KINDS,
  },
  "hidden": {
    schema: {
      "description": "`true`: parsed and usable in expressions, but left out of `dump` and JSON.",
      "type": "boolean"
    },
    kinds: ALL_KINDS,
  },
  "value": {
    schema: {
      "description": "Instead of `type`: an expression; the field reads nothing (a derived value). `enum:` and `flags:` may name it.",
      "$ref": "#/definitions/expression"
    },
    kinds: ['value'],
  },
  "on": {
    schema: {
      "description": "Switch: the expression whose value chooses the type.",
      "$ref": "#/definitions/expression"
    },
    kinds: ['switch'],
  },
  "cases": {
    schema: {
      "description": "Switch: mapping case expression → type name, tried in order with `==`. Case keys are expressions: numbers (`0x10b`), enum members (`magic::PE32`), strings in their own quotes (`'\"gzip\"'`).",
      "type": "object",
      "additionalProperties": {
        "$ref": "#/definitions/typeRef"
      }
    },
    kinds: ['switch'],
  },
  "default": {
    schema: {
      "description": "Switch: the type used when no case equals the value (else the parse error `no-case`).",
      "$ref": "#/definitions/typeRef"
    },
    kinds: ['switch'],
  },
  "encoding": {
    schema: {
      "description": "How bytes become text: `ascii` (the default; each byte one character, as latin1), `latin1`, or `utf8`.",
      "type": "string",
      "enum": [
        "ascii",
        "latin1",
        "utf8"
      ]
    },
    kinds: ['str', 'strz'],
  },
};

type Json = { [key: string]: unknown };

/** The keywords one field kind takes, with that kind's refinement of each. */
function kindProperties(kind: FieldKindName): { [name: string]: Fragment } {
  const out: { [name: string]: Fragment } = {};
  for (const [name, k] of Object.entries(FIELD_KEYWORDS)) {
    if (k.kinds.includes(kind)) out[name] = k.narrowed?.[kind] ?? {};
  }
  return out;
}

const withProperties = (shape: Fragment, keywords: { readonly [name: string]: Fragment }): Json => {
  // `properties` goes where JSON Schema readers expect it: after the construct's own annotations.
  const { required, ...rest } = shape as Json;
  return { ...rest, ...(required !== undefined ? { required } : {}), properties: { ...keywords }, ...pick(shape, ['allOf', 'if', 'then', 'else', 'dependencies']) };
};
function pick(o: Fragment, keys: readonly string[]): Json {
  const out: Json = {};
  for (const k of keys) if (k in o) out[k] = o[k];
  return out;
}

/** docs/kimg-schema.json, assembled from the table. */
export function buildJsonSchema(): Json {
  // A fresh copy each time: the validator marks its sub-objects by identity.
  return structuredClone(assemble());
}

function assemble(): Json {
  const fieldKeywords: { [name: string]: Fragment } = {};
  for (const [name, k] of Object.entries(FIELD_KEYWORDS)) fieldKeywords[name] = k.schema;
  const kinds: Json = {};
  for (const kind of Object.keys(FIELD_KIND_DEFINITIONS) as FieldKindName[]) kinds[FIELD_KIND_DEFINITIONS[kind]] = withProperties(FIELD_KIND_SHAPES[kind], kindProperties(kind));
  const { valueField, ...typedKinds } = kinds;
  return {
    ...withProperties(SCHEMA_FILE.shape, SCHEMA_FILE.keywords),
    definitions: {
      ...VALUE_TYPES,
      type: withProperties(CONSTRUCTS.type.shape, CONSTRUCTS.type.keywords),
      field: withProperties(FIELD_SHAPE, fieldKeywords),
      valueField,
      typedField: TYPED_FIELD_SHAPE,
      ...typedKinds,
      bitRange: withProperties(CONSTRUCTS.bitRange.shape, CONSTRUCTS.bitRange.keywords),
      check: withProperties(CONSTRUCTS.check.shape, CONSTRUCTS.check.keywords),
      detect: withProperties(CONSTRUCTS.detect.shape, CONSTRUCTS.detect.keywords),
      region: withProperties(CONSTRUCTS.region.shape, CONSTRUCTS.region.keywords),
      scan: withProperties(CONSTRUCTS.scan.shape, CONSTRUCTS.scan.keywords),
    },
  };
}

/** The keys a construct allows (the loader's unknown-key check). */
export function constructKeys(construct: Construct): string[] {
  return Object.keys(construct.keywords);
}

/** Every field keyword. */
export const FIELD_KEYS: readonly string[] = Object.keys(FIELD_KEYWORDS);

/** The field keywords a kind takes (for the loader's "does not apply to … fields" check). */
export function fieldKeysFor(...kinds: FieldKindName[]): string[] {
  return FIELD_KEYS.filter((name) => kinds.some((k) => FIELD_KEYWORDS[name]!.kinds.includes(k)));
}

/**
 * Keys that place or repeat what a field reads (every reading kind takes them, a derived value does not):
 * `at`, `count`, `repeat`, `until`. Messages about value fields name them from here.
 */
export const PLACEMENT_KEYS: readonly string[] = FIELD_KEYS.filter(
  (name) => name !== 'type' && READING_KINDS.every((k) => FIELD_KEYWORDS[name]!.kinds.includes(k)) && !FIELD_KEYWORDS[name]!.kinds.includes('value'),
);

/** "'at', 'count', 'repeat' and 'until'" */
export function quotedList(keys: readonly string[]): string {
  const q = keys.map((k) => `'${k}'`);
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} and ${q[q.length - 1]}`;
}

/** The keys of the objects in an array-of-objects keyword (a region's `inner` list, detection's `magic` list). */
export function itemKeys(keyword: Fragment): string[] {
  const items = keyword['items'] as { properties?: object } | undefined;
  return Object.keys(items?.properties ?? {});
}

/** The loader's key lists, one per construct, all from the table above. */
export const KEYS = {
  schema: constructKeys(SCHEMA_FILE),
  type: constructKeys(CONSTRUCTS.type),
  field: FIELD_KEYS,
  check: constructKeys(CONSTRUCTS.check),
  detect: constructKeys(CONSTRUCTS.detect),
  magic: itemKeys(CONSTRUCTS.detect.keywords.magic),
  region: constructKeys(CONSTRUCTS.region),
  inner: itemKeys(CONSTRUCTS.region.keywords.inner),
  markers: Object.keys(CONSTRUCTS.region.keywords.markers.properties),
  bits: constructKeys(CONSTRUCTS.bitRange),
  scan: constructKeys(CONSTRUCTS.scan),
  hexBytes: Object.keys((VALUE_TYPES['bytes'] as { properties: object }).properties),
} as const;
