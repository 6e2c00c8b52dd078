meta:
  id: arm64_image
  endian: le
doc: The 64-byte arm64 Linux Image header (Documentation/arch/arm64/booting.rst), for bench/parse.mjs.
seq:
  - { id: code0, type: u4 }
  - { id: code1, type: u4 }
  - { id: text_offset, type: u8 }
  - { id: image_size, type: u8 }
  - { id: flags, type: u8 }
  - { id: res2, type: u8 }
  - { id: res3, type: u8 }
  - { id: res4, type: u8 }
  - { id: magic, contents: [0x41, 0x52, 0x4d, 0x64] }
  - { id: pe_offset, type: u4 }
instances:
  be_kernel: { value: (flags & 1) == 1 }
  page_size: { value: (flags >> 1) & 3 }
  phys_placement: { value: ((flags >> 3) & 1) == 1 }
