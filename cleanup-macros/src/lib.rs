//! The `#[graceful_main]` attribute of the [`cleanup`] crate.
//!
//! Use it through `cleanup`, which re-exports it:
//! `#[cleanup::graceful_main]`. This crate holds only the macro; the code it
//! generates calls into `cleanup`, which must be a dependency of the crate
//! that uses the attribute.
//!
//! [`cleanup`]: https://docs.rs/graceful-cleanup
//!
#![doc = include_str!("graceful_main.md")]
#![forbid(unsafe_code)]

mod args;
mod check;
mod errors;
mod expand;
mod item;
mod lints;
mod signals;

use proc_macro::TokenStream;

#[doc = include_str!("graceful_main.md")]
#[proc_macro_attribute]
pub fn graceful_main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), item.into()).into()
}
