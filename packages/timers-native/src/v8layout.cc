// v8layout.cc: PtprofV8Layout from the running Node's postmortem metadata (see v8layout.h).
#include "v8layout.h"

#include <elf.h>
#include <link.h>
#include <v8-version.h>

#include <cstdlib>
#include <cstring>

#include "compat.h"

// The address of a dynamic symbol of a loaded object, found through its GNU hash table. Not dlsym:
// it moved into libc in glibc 2.34 with a new symbol version, and the prebuilds must load where
// Node does (glibc 2.28; see compat.h).
struct PtprofSymbolQuery {
  const char* name;
  uint32_t hash;
  const void* found;
};

static uint32_t ptprof_gnu_hash(const char* s) {
  uint32_t h = 5381;
  for (; *s; s++) h = h * 33 + static_cast<uint8_t>(*s);
  return h;
}

static int ptprof_find_symbol(struct dl_phdr_info* info, size_t, void* arg) {
  auto* q = static_cast<PtprofSymbolQuery*>(arg);
  const ElfW(Dyn)* dyn = nullptr;
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
      dyn = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  if (dyn == nullptr) return 0;
  uintptr_t symtab = 0, strtab = 0, gnu_hash = 0;
  for (; dyn->d_tag != DT_NULL; dyn++) {
    if (dyn->d_tag == DT_SYMTAB)
      symtab = dyn->d_un.d_ptr;
    else if (dyn->d_tag == DT_STRTAB)
      strtab = dyn->d_un.d_ptr;
    else if (dyn->d_tag == DT_GNU_HASH)
      gnu_hash = dyn->d_un.d_ptr;
  }
  if (symtab == 0 || strtab == 0 || gnu_hash == 0) return 0;
  // The dynamic linker relocates these in place on x86-64 and arm64; an unrelocated one is below
  // the object's base.
  if (symtab < info->dlpi_addr) symtab += info->dlpi_addr;
  if (strtab < info->dlpi_addr) strtab += info->dlpi_addr;
  if (gnu_hash < info->dlpi_addr) gnu_hash += info->dlpi_addr;
  const uint32_t* h = reinterpret_cast<const uint32_t*>(gnu_hash);
  uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2];
  if (nbuckets == 0) return 0;
  const uint32_t* buckets = reinterpret_cast<const uint32_t*>(reinterpret_cast<const ElfW(Addr)*>(h + 4) + bloom_size);
  const uint32_t* chain = buckets + nbuckets;
  uint32_t i = buckets[q->hash % nbuckets];
  if (i < symoffset) return 0;
  const auto* syms = reinterpret_cast<const ElfW(Sym)*>(symtab);
  for (;; i++) {
    uint32_t ch = chain[i - symoffset];
    if ((ch | 1) == (q->hash | 1) && strcmp(q->name, reinterpret_cast<const char*>(strtab) + syms[i].st_name) == 0 &&
        syms[i].st_shndx != SHN_UNDEF) {
      q->found = reinterpret_cast<const void*>(info->dlpi_addr + syms[i].st_value);
      return 1;
    }
    if (ch & 1) return 0;
  }
}

// A v8dbg_* constant of the running binary (Node's executable, or a libnode): `int` data symbols
// (V8's tools/gen-postmortem-metadata.py). False when no loaded object exports it.
static bool ptprof_dbg(const char* name, int* out) {
  PtprofSymbolQuery q{name, ptprof_gnu_hash(name), nullptr};
  dl_iterate_phdr(ptprof_find_symbol, &q);
  if (q.found == nullptr) return false;
  int v;
  memcpy(&v, q.found, sizeof(v));
  *out = v;
  return true;
}

// PTPROF_TEST_V8LAYOUT="field=value,...": a wrong layout on purpose, for the tests that show every
// read failing closed (packages/sampler/test/inlining-failclosed.test.ts); "off" refuses the V8 as
// an unknown one would be; "pipe" reads as where process_vm_readv is refused. Not for use.
static void ptprof_v8_layout_test_override(PtprofV8Layout* L) {
  const char* spec = getenv("PTPROF_TEST_V8LAYOUT");
  if (spec == nullptr || *spec == 0) return;
  struct {
    const char* name;
    int* field;
  } fields[] = {
      {"istream_code", &L->istream_code},
      {"code_deopt", &L->code_deopt},
      {"code_positions", &L->code_positions},
      {"code_flags", &L->code_flags},
      {"dd_literals", &L->dd_literals},
      {"dd_positions", &L->dd_positions},
      {"sfi_data", &L->sfi_data},
      {"sfi_script", &L->sfi_script},
      {"script_id", &L->script_id},
      {"script_line_ends", &L->script_line_ends},
      {"script_source", &L->script_source},
      {"bytecode_data", &L->bytecode_data},
  };
  std::string s(spec);
  size_t at = 0;
  while (at < s.size()) {
    size_t end = s.find(',', at);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(at, end - at);
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    int value = eq == std::string::npos ? 0 : atoi(item.c_str() + eq + 1);
    if (key == "pipe") L->test_pipe = true;
    if (key == "off") {
      L->ok = false;
      L->why = "refused for a test (PTPROF_TEST_V8LAYOUT=off)";
    }
    for (auto& f : fields)
      if (key == f.name) *f.field = value;
    at = end + 1;
  }
}

PtprofV8Layout ptprof_v8_layout() {
  PtprofV8Layout L;
  std::string missing;
  auto need = [&](const char* name, int* out) {
    if (!ptprof_dbg(name, out)) missing += missing.empty() ? name : std::string(", ") + name;
  };
  auto maybe = [&](const char* name, int* out) { ptprof_dbg(name, out); };

  // The per-version rows of v8layout.h. A V8 without a row is refused.
#if V8_MAJOR_VERSION == 11 && V8_MINOR_VERSION == 3
  const bool known = true;
  L.code_istart = 40;
  L.code_flags = 48;
  L.code_deopt = 16;
  L.code_positions = 24;
  L.code_bytecode = 16;
  L.sfi_data = 8;
#elif (V8_MAJOR_VERSION == 12 && V8_MINOR_VERSION == 4) || (V8_MAJOR_VERSION == 13 && V8_MINOR_VERSION == 6) || \
    (V8_MAJOR_VERSION == 14 && V8_MINOR_VERSION == 6)
  const bool known = true;
  L.code_deopt = 8;
  L.code_positions = 16;
  L.code_bytecode = 8;
  L.sfi_data = 8;
  L.positions_flag_bits = V8_MAJOR_VERSION >= 14;
#else
  const bool known = false;
#endif
  if (!known) {
    L.why = "V8 " + std::to_string(V8_MAJOR_VERSION) + "." + std::to_string(V8_MINOR_VERSION) +
            " is not one whose heap layout was checked (Node 20, 22, 24, 26)";
    return L;
  }

  int tagged = 0;
  if (!ptprof_dbg("v8dbg_TaggedSize", &tagged)) {
    L.why = "this Node binary exports no V8 postmortem metadata (v8dbg_* symbols)";
    return L;
  }
  if (tagged != 8) {
    L.why = "V8 uses compressed pointers here (v8dbg_TaggedSize " + std::to_string(tagged) + ")";
    return L;
  }

  need("v8dbg_type_Map__MAP_TYPE", &L.t_map);
  need("v8dbg_type_Code__CODE_TYPE", &L.t_code);
  need("v8dbg_type_InstructionStream__INSTRUCTION_STREAM_TYPE", &L.t_istream);
  need("v8dbg_type_SharedFunctionInfo__SHARED_FUNCTION_INFO_TYPE", &L.t_sfi);
  need("v8dbg_type_Script__SCRIPT_TYPE", &L.t_script);
  need("v8dbg_type_FixedArray__FIXED_ARRAY_TYPE", &L.t_fixed);
  need("v8dbg_type_WeakFixedArray__WEAK_FIXED_ARRAY_TYPE", &L.t_weak_fixed);
  need("v8dbg_type_ByteArray__BYTE_ARRAY_TYPE", &L.t_bytes);
  need("v8dbg_type_BytecodeArray__BYTECODE_ARRAY_TYPE", &L.t_bytecode);
  need("v8dbg_type_InterpreterData__INTERPRETER_DATA_TYPE", &L.t_interpreter_data);
  need("v8dbg_FirstNonstringType", &L.first_nonstring);
  maybe("v8dbg_type_SharedFunctionInfoWrapper__SHARED_FUNCTION_INFO_WRAPPER_TYPE", &L.t_sfi_wrapper);
  maybe("v8dbg_type_TrustedFixedArray__TRUSTED_FIXED_ARRAY_TYPE", &L.t_trusted_fixed);
  maybe("v8dbg_type_ProtectedFixedArray__PROTECTED_FIXED_ARRAY_TYPE", &L.t_protected_fixed);
  maybe("v8dbg_type_TrustedWeakFixedArray__TRUSTED_WEAK_FIXED_ARRAY_TYPE", &L.t_trusted_weak_fixed);
  maybe("v8dbg_type_ProtectedWeakFixedArray__PROTECTED_WEAK_FIXED_ARRAY_TYPE", &L.t_protected_weak_fixed);
  maybe("v8dbg_type_TrustedByteArray__TRUSTED_BYTE_ARRAY_TYPE", &L.t_trusted_bytes);
  maybe("v8dbg_type_BytecodeWrapper__BYTECODE_WRAPPER_TYPE", &L.t_bytecode_wrapper);
  maybe("v8dbg_StringRepresentationMask", &L.string_repr_mask);
  maybe("v8dbg_StringEncodingMask", &L.string_encoding_mask);
  maybe("v8dbg_OneByteStringTag", &L.one_byte_tag);
  maybe("v8dbg_SeqStringTag", &L.seq_tag);
  maybe("v8dbg_ConsStringTag", &L.cons_tag);
  maybe("v8dbg_ExternalStringTag", &L.external_tag);
  maybe("v8dbg_SlicedStringTag", &L.sliced_tag);
  maybe("v8dbg_ThinStringTag", &L.thin_tag);

  need("v8dbg_class_Map__instance_type__uint16_t", &L.map_instance_type);
  need("v8dbg_class_FixedArrayBase__length__SMI", &L.array_length);
  need("v8dbg_class_FixedArray__data__uintptr_t", &L.array_data);
  need("v8dbg_class_InstructionStream__instruction_start__uintptr_t", &L.istream_header);
  need("v8dbg_class_BytecodeArray__data__uintptr_t", &L.bytecode_data);
  need("v8dbg_CodeKindFieldMask", &L.kind_mask);
  need("v8dbg_CodeKindFieldShift", &L.kind_shift);
  int baseline = 0;
  need("v8dbg_CodeKindBaseline", &baseline);
  // CODE_KIND_LIST (src/objects/code-kind.h) ends ... BASELINE, MAGLEV, TURBOFAN(_JS) in every one.
  L.kind_maglev = baseline + 1;
  L.kind_turbofan = baseline + 2;
  need("v8dbg_DeoptimizationDataInlinedFunctionCountIndex", &L.dd_count);
  need("v8dbg_DeoptimizationDataLiteralArrayIndex", &L.dd_literals);
  need("v8dbg_DeoptimizationDataInliningPositionsIndex", &L.dd_positions);
  if (ptprof_dbg("v8dbg_DeoptimizationDataWrappedSharedFunctionInfoIndex", &L.dd_sfi)) {
    L.dd_sfi_wrapped = true;
    need("v8dbg_class_SharedFunctionInfoWrapper__shared_info__Tagged_SharedFunctionInfo_", &L.sfi_wrapper_sfi);
    if (L.t_sfi_wrapper < 0) missing += ", v8dbg_type_SharedFunctionInfoWrapper__SHARED_FUNCTION_INFO_WRAPPER_TYPE";
  } else {
    need("v8dbg_DeoptimizationDataSharedFunctionInfoIndex", &L.dd_sfi);
  }
  // Fields whose symbol is named after their C++ type, which changed between versions: the first
  // spelling that resolves wins; none resolving is refused.
  auto one_of = [&](std::initializer_list<const char*> names, int* out) {
    for (const char* n : names)
      if (ptprof_dbg(n, out)) return;
    missing += missing.empty() ? *names.begin() : std::string(", ") + *names.begin();
  };
  one_of({"v8dbg_class_SharedFunctionInfo__script__Tagged_HeapObject_",
          "v8dbg_class_SharedFunctionInfo__script_or_debug_info__HeapObject"},
         &L.sfi_script);
  maybe("v8dbg_class_Code__instruction_start__Address", &L.code_istart);
  maybe("v8dbg_class_Code__flags__uint32_t", &L.code_flags);
  maybe("v8dbg_class_Code__deoptimization_data__FixedArray", &L.code_deopt);
  maybe("v8dbg_class_Code__source_position_table__ByteArray", &L.code_positions);
  maybe("v8dbg_class_Code__bytecode_or_interpreter_data__HeapObject", &L.code_bytecode);
  maybe("v8dbg_class_Code__instruction_stream__Tagged_InstructionStream_", &L.code_istream);
  maybe("v8dbg_class_SharedFunctionInfo__function_data__Object", &L.sfi_data);
  need("v8dbg_class_Script__source__Object", &L.script_source);
  need("v8dbg_class_Script__line_ends__Object", &L.script_line_ends);
  maybe("v8dbg_class_String__length__int32_t", &L.string_length);
  maybe("v8dbg_class_SeqOneByteString__chars__char", &L.seq_chars);
  maybe("v8dbg_class_ConsString__first__String", &L.cons_first);
  maybe("v8dbg_class_ConsString__second__String", &L.cons_second);
  maybe("v8dbg_class_SlicedString__parent__String", &L.sliced_parent);
  maybe("v8dbg_class_SlicedString__offset__SMI", &L.sliced_offset);
  maybe("v8dbg_class_ThinString__actual__String", &L.thin_actual);
  maybe("v8dbg_class_ExternalString__resource__Object", &L.external_resource);
  if (!missing.empty()) {
    L.why = "this Node binary lacks V8 metadata symbols: " + missing;
    return L;
  }
  L.ok = true;
  ptprof_v8_layout_test_override(&L);
  return L;
}
