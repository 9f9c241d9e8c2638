//! Whether the function is a `main` the attribute can wrap, and whether the
//! options fit it and each other.

use proc_macro2::Ident;
use syn::Error;

use crate::args::{Args, Flavor};
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
        if qualifier == "async" {
            // The facade's `tokio` feature turns ours on with the runtime's.
            if !cfg!(feature = "tokio") {
                errors.push(Error::new(
                    qualifier.span(),
                    "`async fn main` requires the `tokio` feature of `cleanup`",
                ));
            }
        } else {
            errors.push(Error::new(
                qualifier.span(),
                format!("`#[graceful_main]` does not support `{qualifier} fn main`"),
            ));
        }
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

/// The rules between options, and between an option and a `main` that
/// [`check`] accepted. Each error points at the key that breaks the rule.
pub(crate) fn options(args: &Args, item: &ItemFn) -> Result<(), Error> {
    let mut errors = Errors::default();
    if !item.is_async() {
        let async_only = |key: &Ident| {
            Error::new(
                key.span(),
                format!("`{key}` applies to `async fn main` only"),
            )
        };
        if let Some(flavor) = &args.flavor {
            errors.push(async_only(&flavor.key));
        }
        if let Some(threads) = &args.worker_threads {
            errors.push(async_only(&threads.key));
        }
    } else if let (Some(flavor), Some(threads)) = (&args.flavor, &args.worker_threads) {
        if flavor.value == Flavor::CurrentThread {
            errors.push(Error::new(
                threads.key.span(),
                "`worker_threads` applies to the `multi_thread` flavor only, \
                 a `current_thread` runtime runs on `main`'s thread",
            ));
        }
    }
    if let Some(delay) = &args.drain_delay_ms {
        // The runtime's default timeout, as `Config::new()` has it.
        let timeout = args.timeout_ms.unwrap_or(10_000);
        if delay.value >= timeout {
            errors.push(Error::new(
                delay.key.span(),
                format!(
                    "`drain_delay` must be shorter than `timeout` ({timeout}ms): the deadline \
                     runs from the signal, and the cleanups need time after the delay"
                ),
            ));
        }
    }
    errors.finish()
}

#[cfg(test)]
mod tests {
    use super::options;
    use crate::{args, item};
    use proc_macro2::TokenStream;
    use quote::quote;

    fn message(args: TokenStream, item: TokenStream) -> Option<String> {
        let args = args::parse(args).unwrap();
        let item = item::parse(item).unwrap();
        let error = options(&args, &item).err()?;
        let messages: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
        Some(messages.join("\n"))
    }

    #[test]
    fn runtime_options_on_async_main() {
        let main = quote!(
            async fn main() {}
        );
        for args in [
            quote!(),
            quote!(flavor = "current_thread"),
            quote!(flavor = "multi_thread", worker_threads = 2),
            quote!(worker_threads = 2),
        ] {
            assert_eq!(message(args.clone(), main.clone()), None, "{args}");
        }
    }

    #[test]
    fn worker_threads_with_current_thread() {
        let expected = "`worker_threads` applies to the `multi_thread` flavor only, \
                        a `current_thread` runtime runs on `main`'s thread";
        for args in [
            quote!(flavor = "current_thread", worker_threads = 2),
            quote!(worker_threads = 2, flavor = "current_thread"),
        ] {
            assert_eq!(
                message(
                    args,
                    quote!(
                        async fn main() {}
                    )
                )
                .as_deref(),
                Some(expected)
            );
        }
    }

    #[test]
    fn the_drain_delay_is_shorter_than_the_timeout() {
        let main = quote!(
            fn main() {}
        );
        assert_eq!(message(quote!(drain_delay = "5s"), main.clone()), None);
        assert_eq!(
            message(quote!(timeout = "30s", drain_delay = "5s"), main.clone()),
            None
        );
        let too_long = "`drain_delay` must be shorter than `timeout` (10000ms): the deadline runs \
                        from the signal, and the cleanups need time after the delay";
        assert_eq!(
            message(quote!(drain_delay = "10s"), main.clone()).as_deref(),
            Some(too_long)
        );
        assert!(message(quote!(timeout = "2s", drain_delay = "3s"), main)
            .is_some_and(|message| message.contains("(2000ms)")));
    }

    #[test]
    fn runtime_options_on_sync_main() {
        let main = quote!(
            fn main() {}
        );
        assert_eq!(message(quote!(timeout = "1s", quiet), main.clone()), None);
        assert_eq!(
            message(quote!(flavor = "multi_thread"), main.clone()).as_deref(),
            Some("`flavor` applies to `async fn main` only")
        );
        assert_eq!(
            message(
                quote!(flavor = "current_thread", worker_threads = 2),
                main.clone()
            )
            .as_deref(),
            Some(
                "`flavor` applies to `async fn main` only\n\
                 `worker_threads` applies to `async fn main` only"
            )
        );
    }
}
