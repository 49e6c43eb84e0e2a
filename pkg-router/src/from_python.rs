#![doc = include_str!("../docs/from_python.md")]
