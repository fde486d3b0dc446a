{
  "targets": [
    {
      "target_name": "gamemesh_native",
      "sources": [
        "src/addon.c",
        "src/addon_track.c",
        "<!@(ls -1 src/dataplane/*.c)",
        "<!@(ls -1 src/trackers/*.c)"
      ],
      "include_dirs": ["src"],
      "cflags": ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden", "-D_GNU_SOURCE"],
      "cflags!": ["-O3"],
      "ldflags": ["-pthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
