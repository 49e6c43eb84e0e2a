#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pkg_router_fuzz::targets::auth_frame(data));
