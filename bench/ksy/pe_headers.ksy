meta:
  id: pe_headers
  endian: le
doc: >
  PE/COFF headers as kimg's schemas/pe.yaml reads them (DOS header, signature, COFF header,
  PE32/PE32+ optional header with data directories, section table), for bench/parse.mjs.
seq:
  - { id: dos, type: dos_header }
instances:
  pe:
    pos: dos.e_lfanew
    type: pe_header
types:
  dos_header:
    seq:
      - { id: e_magic, contents: "MZ" }
      - { id: e_cblp, type: u2 }
      - { id: e_cp, type: u2 }
      - { id: e_crlc, type: u2 }
      - { id: e_cparhdr, type: u2 }
      - { id: e_minalloc, type: u2 }
      - { id: e_maxalloc, type: u2 }
      - { id: e_ss, type: u2 }
      - { id: e_sp, type: u2 }
      - { id: e_csum, type: u2 }
      - { id: e_ip, type: u2 }
      - { id: e_cs, type: u2 }
      - { id: e_lfarlc, type: u2 }
      - { id: e_ovno, type: u2 }
      - { id: e_res, type: u2, repeat: expr, repeat-expr: 4 }
      - { id: e_oemid, type: u2 }
      - { id: e_oeminfo, type: u2 }
      - { id: e_res2, type: u2, repeat: expr, repeat-expr: 10 }
      - { id: e_lfanew, type: u4 }
  pe_header:
    seq:
      - { id: signature, contents: [0x50, 0x45, 0, 0] }
      - { id: coff, type: coff_header }
      - id: optional_header
        type: optional_header
        size: coff.size_of_optional_header
        if: coff.size_of_optional_header >= 2
      - { id: sections, type: section_header, repeat: expr, repeat-expr: coff.number_of_sections }
  coff_header:
    seq:
      - { id: machine, type: u2 }
      - { id: number_of_sections, type: u2 }
      - { id: time_date_stamp, type: u4 }
      - { id: pointer_to_symbol_table, type: u4 }
      - { id: number_of_symbols, type: u4 }
      - { id: size_of_optional_header, type: u2 }
      - { id: characteristics, type: u2 }
  optional_header:
    seq:
      - { id: magic, type: u2 }
      - id: body
        type:
          switch-on: magic
          cases:
            0x10b: pe32_body
            0x20b: pe32plus_body
  pe32_body:
    seq:
      - { id: major_linker_version, type: u1 }
      - { id: minor_linker_version, type: u1 }
      - { id: size_of_code, type: u4 }
      - { id: size_of_initialized_data, type: u4 }
      - { id: size_of_uninitialized_data, type: u4 }
      - { id: address_of_entry_point, type: u4 }
      - { id: base_of_code, type: u4 }
      - { id: base_of_data, type: u4 }
      - { id: image_base, type: u4 }
      - { id: section_alignment, type: u4 }
      - { id: file_alignment, type: u4 }
      - { id: major_operating_system_version, type: u2 }
      - { id: minor_operating_system_version, type: u2 }
      - { id: major_image_version, type: u2 }
      - { id: minor_image_version, type: u2 }
      - { id: major_subsystem_version, type: u2 }
      - { id: minor_subsystem_version, type: u2 }
      - { id: win32_version_value, type: u4 }
      - { id: size_of_image, type: u4 }
      - { id: size_of_headers, type: u4 }
      - { id: check_sum, type: u4 }
      - { id: subsystem, type: u2 }
      - { id: dll_characteristics, type: u2 }
      - { id: size_of_stack_reserve, type: u4 }
      - { id: size_of_stack_commit, type: u4 }
      - { id: size_of_heap_reserve, type: u4 }
      - { id: size_of_heap_commit, type: u4 }
      - { id: loader_flags, type: u4 }
      - { id: number_of_rva_and_sizes, type: u4 }
      - { id: data_directories, type: data_directory, repeat: expr, repeat-expr: number_of_rva_and_sizes }
  pe32plus_body:
    seq:
      - { id: major_linker_version, type: u1 }
      - { id: minor_linker_version, type: u1 }
      - { id: size_of_code, type: u4 }
      - { id: size_of_initialized_data, type: u4 }
      - { id: size_of_uninitialized_data, type: u4 }
      - { id: address_of_entry_point, type: u4 }
      - { id: base_of_code, type: u4 }
      - { id: image_base, type: u8 }
      - { id: section_alignment, type: u4 }
      - { id: file_alignment, type: u4 }
      - { id: major_operating_system_version, type: u2 }
      - { id: minor_operating_system_version, type: u2 }
      - { id: major_image_version, type: u2 }
      - { id: minor_image_version, type: u2 }
      - { id: major_subsystem_version, type: u2 }
      - { id: minor_subsystem_version, type: u2 }
      - { id: win32_version_value, type: u4 }
      - { id: size_of_image, type: u4 }
      - { id: size_of_headers, type: u4 }
      - { id: check_sum, type: u4 }
      - { id: subsystem, type: u2 }
      - { id: dll_characteristics, type: u2 }
      - { id: size_of_stack_reserve, type: u8 }
      - { id: size_of_stack_commit, type: u8 }
      - { id: size_of_heap_reserve, type: u8 }
      - { id: size_of_heap_commit, type: u8 }
      - { id: loader_flags, type: u4 }
      - { id: number_of_rva_and_sizes, type: u4 }
      - { id: data_directories, type: data_directory, repeat: expr, repeat-expr: number_of_rva_and_sizes }
  data_directory:
    seq:
      - { id: virtual_address, type: u4 }
      - { id: size, type: u4 }
  section_header:
    seq:
      - { id: name, type: strz, size: 8, encoding: ASCII }
      - { id: virtual_size, type: u4 }
      - { id: virtual_address, type: u4 }
      - { id: size_of_raw_data, type: u4 }
      - { id: pointer_to_raw_data, type: u4 }
      - { id: pointer_to_relocations, type: u4 }
      - { id: pointer_to_linenumbers, type: u4 }
      - { id: number_of_relocations, type: u2 }
      - { id: number_of_linenumbers, type: u2 }
      - { id: characteristics, type: u4 }
