"""A boolean command-line build setting (skylib's bool_flag, written here
because nothing may be downloaded)."""

def _bool_flag_impl(ctx):
    return []

bool_flag = rule(
    implementation = _bool_flag_impl,
    build_setting = config.bool(flag = True),
)
