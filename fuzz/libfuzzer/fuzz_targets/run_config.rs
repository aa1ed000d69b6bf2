#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| slm_fuzz::run_config(data));
