"""Fuzz targets that double as regression tests.

p2p_fuzz_target(name, srcs, deps, corpus) defines a cc_test `name` whose
sources define LLVMFuzzerTestOneInput. In the default build it is linked with
//tests/fuzz:replay_main, which feeds it every file under `corpus` and a
fixed, seeded stream of mutated inputs, so `bazel test //...` exercises it
deterministically. Under --config=fuzz (clang) it links libFuzzer instead;
./dev fuzz runs it for a bounded time.
"""

load("//tools:copts.bzl", "P2P_COPTS")

def p2p_fuzz_target(name, srcs, deps = [], corpus = []):
    native.cc_test(
        name = name,
        srcs = srcs,
        copts = P2P_COPTS,
        data = corpus,
        args = ["$(location %s)" % c for c in corpus],
        linkopts = select({
            "//tools:libfuzzer_enabled": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = deps + select({
            "//tools:libfuzzer_enabled": [],
            "//conditions:default": ["//tests/fuzz:replay_main"],
        }),
        tags = ["fuzz"],
    )
