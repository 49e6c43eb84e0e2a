#![doc = include_str!("../docs/adding_a_handler.md")]
