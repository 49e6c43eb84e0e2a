#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pkg_router_fuzz::targets::protobuf_codec(data));
