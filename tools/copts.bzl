"""Compiler flags for every target of this project, in one place."""

P2P_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
    "-Werror=return-type",
    "-Werror=unused-result",
]

P2P_TEST_COPTS = P2P_COPTS
