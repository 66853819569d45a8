{
  "targets": [
    {
      "target_name": "ptprof_timers",
      "sources": ["src/binding.cc", "src/handler.cc", "src/signals.cc", "src/registry.cc", "src/timers.cc", "src/codeevents.cc", "src/drain.cc", "src/control.cc", "src/napi_util.cc", "src/elf.cc", "src/inline.cc", "src/v8layout.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags_cc": ["-std=c++20", "-fno-exceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-Wno-cast-function-type"],
      "cflags_cc!": ["-std=gnu++17", "-std=c++17"],
      "ldflags": ["-Wl,-z,now", "-Wl,-z,nodelete"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["src/binding.cc", "src/handler.cc", "src/signals.cc", "src/registry.cc", "src/timers.cc", "src/codeevents.cc", "src/drain.cc", "src/control.cc", "src/napi_util.cc", "src/elf.cc", "src/inline.cc", "src/v8layout.cc"] }]
      ]
    }
  ]
}
