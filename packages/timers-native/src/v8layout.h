// v8layout.h: where V8 keeps what inline.cc reads in its heap, for each V8 with a prebuild.
//
// V8's public API says nothing about inlining (inline.cc says why it reads the heap at all). Two
// sources tell where things are:
//   - V8's postmortem metadata: Node's binary exports `v8dbg_*` symbols (class field offsets,
//     instance types, DeoptimizationData indices) for debuggers; they are read at run time with
//     dlsym, so instance types (which change in every V8) are never hard-coded here;
//   - the fields the metadata leaves out, below, per V8 version, as measured on the official Node
//     builds with prebuilds (the cross-version suite, npm run test:node-versions, checks them):
//
//                                       Node 20     Node 22     Node 24     Node 26
//                                       V8 11.3     V8 12.4     V8 13.6     V8 14.6
//   InstructionStream -> its Code         +8          +8          +8          +8
//   Code: instruction_start               +40         exported    exported    exported
//   Code: flags (kind in the low bits)    +48         exported    exported    exported
//   Code: deoptimization data             exported    +8          +8          +8
//   Code: source position table           exported    +16         +16         +16
//   Code (baseline): its bytecode         exported    +8          +8          +8
//   SharedFunctionInfo: function data     exported    +8          +8          +8
//   InterpreterData: bytecode array       +8          +8          +8          +8
//   Script: line_offset, column_offset    +24, +32    +24, +32    +24, +32    +24, +32
//   Script: id                            +64         +64         +64         +64
//   source position pc delta: flags in    its sign    its sign    its sign    its low 2 bits
//
// Every read is checked against the instance type the metadata gives for the object it expects,
// and the reader refuses a V8 it has no row for (inline.cc fails closed: samples keep their outer
// frame). Tagged fields are plain 64-bit pointers on all four (no pointer compression, no sandbox:
// v8dbg_TaggedSize is 8); a build with compressed pointers is refused.
#ifndef PTPROF_V8LAYOUT_H_
#define PTPROF_V8LAYOUT_H_

#include <cstdint>
#include <string>

struct PtprofV8Layout {
  bool ok = false;
  std::string why;  // when not ok: what was missing

  // Instance types (v8dbg_type_*), -1 when the build has no such type.
  int t_map = -1, t_code = -1, t_istream = -1, t_sfi = -1, t_sfi_wrapper = -1, t_script = -1;
  int t_fixed = -1, t_trusted_fixed = -1, t_protected_fixed = -1;
  int t_weak_fixed = -1, t_trusted_weak_fixed = -1, t_protected_weak_fixed = -1;
  int t_bytes = -1, t_trusted_bytes = -1;
  int t_bytecode = -1, t_bytecode_wrapper = -1, t_interpreter_data = -1;
  int first_nonstring = -1;
  int string_repr_mask = 7, string_encoding_mask = 8, one_byte_tag = 8;
  int seq_tag = 0, cons_tag = 1, external_tag = 2, sliced_tag = 3, thin_tag = 5;

  // Offsets (bytes from the object's untagged start).
  int map_instance_type = 12;
  int array_length = 8, array_data = 16;
  int istream_header = 0, istream_code = 8;
  int code_istart = 0, code_flags = 0, code_deopt = 0, code_positions = 0, code_bytecode = 0, code_istream = -1;
  int kind_mask = 0, kind_shift = 0, kind_maglev = 0, kind_turbofan = 0;
  int dd_count = 0, dd_literals = 0, dd_positions = 0, dd_sfi = 0;
  bool dd_sfi_wrapped = false;
  int sfi_wrapper_sfi = 8;
  // The source position table's pc deltas carry two flag bits (statement, breakable) instead of
  // a sign (V8 14; src/codegen/source-position-table.cc).
  bool positions_flag_bits = false;
  // Tests only (PTPROF_TEST_V8LAYOUT=pipe): read through the pipe, as where process_vm_readv is refused.
  bool test_pipe = false;
  int sfi_data = 0, sfi_script = 0;
  int interpreter_data_bytecode = 8;
  int bytecode_data = 0;
  int script_source = 0, script_line_ends = 0, script_id = 64, script_line_offset = 24, script_column_offset = 32;
  int string_length = 12, seq_chars = 16, cons_first = 16, cons_second = 24, sliced_parent = 16, sliced_offset = 24,
      thin_actual = 16, external_resource = 16;
};

// Resolves the layout for the V8 this addon was built against, from the running binary's metadata.
PtprofV8Layout ptprof_v8_layout();

#endif  // PTPROF_V8LAYOUT_H_
