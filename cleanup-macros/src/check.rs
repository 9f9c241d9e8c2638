//! Whether the function is a `main` the attribute can wrap.

use syn::Error;

use crate::errors::Errors;
use crate::item::ItemFn;

/// What is wrong with the function, if anything.
pub(crate) enum Problem {
    /// Not `main` at all: the function is left as it is.
    NotMain(Error),
    /// A `main` with a signature the attribute (or Rust) does not accept.
    Signature(Error),
}

pub(crate) fn check(item: &ItemFn) -> Result<(), Problem> {
    if item.ident != "main" {
        return Err(Problem::NotMain(Error::new(
            item.ident.span(),
            format!(
                "`#[graceful_main]` can only be applied to `fn main`, not `fn {}`",
                item.ident
            ),
        )));
    }
    let mut errors = Errors::default();
    for qualifier in &item.qualifiers {
        errors.push(if qualifier == "async" {
            // Until the `tokio` feature exists, no build of `cleanup` takes it.
            Error::new(
                qualifier.span(),
                "`async fn main` requires the `tokio` feature of `cleanup`",
            )
        } else {
            Error::new(
                qualifier.span(),
                format!("`#[graceful_main]` does not support `{qualifier} fn main`"),
            )
        });
    }
    if let Some(generics) = &item.generics {
        errors.push(Error::new_spanned(
            generics,
            "`main` cannot have generic parameters",
        ));
    }
    if !item.inputs.stream().is_empty() {
        errors.push(Error::new_spanned(
            item.inputs.stream(),
            "`main` cannot take arguments, read them with `std::env::args()`",
        ));
    }
    if let Some(where_clause) = &item.where_clause {
        errors.push(Error::new_spanned(
            where_clause,
            "`main` cannot have a `where` clause",
        ));
    }
    errors.finish().map_err(Problem::Signature)
}
