/**
 * Builds small PE32+ files for tests of formats the genuine corpus lacks (a UKI, a LoongArch kernel).
 * These are synthetic and named so; every layout value follows the PE/COFF specification.
 */
export interface SectionSpec {
  readonly name: string;
  readonly data: Uint8Array;
  /** VirtualSize to write (default: data length). */
  readonly virtualSize?: number;
}

export interface PeSpec {
  readonly machine: number;
  readonly sections: readonly SectionSpec[];
  /** Bytes to overlay on the 64-byte DOS header (kept: "MZ" at 0 and e_lfanew at 0x3c are set after). */
  readonly dosOverlay?: (dos: DataView) => void;
}

const FILE_ALIGN = 0x200;
const align = (n: number, a: number): number => Math.ceil(n / a) * a;

export function buildPe(spec: PeSpec): { bytes: Uint8Array; sectionOffsets: number[] } {
  const peOffset = 0x40;
  const optSize = 112 + 16 * 8;
  const tableOffset = peOffset + 24 + optSize;
  const headersEnd = align(tableOffset + spec.sections.length * 40, FILE_ALIGN);
  const offsets: number[] = [];
  let cursor = headersEnd;
  for (const s of spec.sections) {
    offsets.push(cursor);
    cursor = align(cursor + s.data.length, FILE_ALIGN);
  }
  const out = new Uint8Array(cursor);
  const v = new DataView(out.buffer);
  spec.dosOverlay?.(v);
  out[0] = 0x4d;
  out[1] = 0x5a;
  v.setUint32(0x3c, peOffset, true);
  out.set([0x50, 0x45, 0, 0], peOffset);
  const coff = peOffset + 4;
  v.setUint16(coff, spec.machine, true);
  v.setUint16(coff + 2, spec.sections.length, true);
  v.setUint16(coff + 16, optSize, true);
  v.setUint16(coff + 18, 0x0206, true);
  const opt = coff + 20;
  v.setUint16(opt, 0x20b, true);
  v.setUint32(opt + 16, 0x1000, true); // AddressOfEntryPoint
  v.setUint32(opt + 32, 0x1000, true); // SectionAlignment
  v.setUint32(opt + 36, FILE_ALIGN, true);
  v.setUint32(opt + 56, align(cursor, 0x1000) + 0x1000, true); // SizeOfImage
  v.setUint32(opt + 60, headersEnd, true);
  v.setUint16(opt + 68, 10, true); // EFI application
  v.setUint32(opt + 108, 16, true); // NumberOfRvaAndSizes
  spec.sections.forEach((s, i) => {
    const at = tableOffset + i * 40;
    const name = new TextEncoder().encode(s.name).subarray(0, 8);
    out.set(name, at);
    v.setUint32(at + 8, s.virtualSize ?? s.data.length, true);
    v.setUint32(at + 12, offsets[i]!, true);
    v.setUint32(at + 16, align(s.data.length, FILE_ALIGN), true);
    v.setUint32(at + 20, offsets[i]!, true);
    v.setUint32(at + 36, 0x40000040, true);
    out.set(s.data, offsets[i]!);
  });
  return { bytes: out, sectionOffsets: offsets };
}

/** A LoongArch kernel Image header (Documentation/arch/loongarch/booting.rst) on a PE with machine 0x6264. */
export function buildLoongarchImage(body: Uint8Array): Uint8Array {
  return buildPe({
    machine: 0x6264,
    sections: [{ name: '.text', data: body }],
    dosOverlay: (v) => {
      v.setBigUint64(0x08, 0x9000000000200000n, true); // kernel_entry
      v.setBigUint64(0x10, 0x1000000n, true); // image size
      v.setBigUint64(0x18, 0x200000n, true); // load_offset
      v.setUint32(0x38, 0x818223cd, true); // LINUX_PE_MAGIC
    },
  }).bytes;
}

/** An EFI zboot image around a payload (drivers/firmware/efi/libstub/zboot-header.S layout). */
export function buildZboot(machine: number, payload: Uint8Array, compressType: string, trailer: number | null): Uint8Array {
  const withTrailer = new Uint8Array(payload.length + (trailer === null ? 0 : 4));
  withTrailer.set(payload);
  if (trailer !== null) new DataView(withTrailer.buffer).setUint32(payload.length, trailer >>> 0, true);
  let payloadOffset = 0;
  const { bytes, sectionOffsets } = buildPe({ machine, sections: [{ name: '.text', data: withTrailer }] });
  payloadOffset = sectionOffsets[0]!;
  const v = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode('zimg'), 4);
  v.setUint32(8, payloadOffset, true);
  v.setUint32(12, payload.length, true);
  bytes.set(new TextEncoder().encode(compressType), 0x18);
  v.setUint32(0x38, 0x818223cd, true);
  return bytes;
}
