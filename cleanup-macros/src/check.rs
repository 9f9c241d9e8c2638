//! Whether the function is a `main` the attribute can wrap, and whether the
//! options fit it and each other.

use proc_macro2::{Delimiter, Ident, TokenStream, TokenTree};
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
                    "`async fn main` requires the `tokio` feature of `graceful-cleanup`",
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

const STACKED_TOKIO_MAIN: &str = "remove `#[tokio::main]`: `#[graceful_main]` builds the tokio \
                                  runtime itself, and takes `flavor` and `worker_threads` as \
                                  `#[tokio::main]` does";

/// `#[tokio::main]` on the same `main`, in either order, which would run a
/// second runtime the shutdown knows nothing of.
///
/// Below `#[graceful_main]` it is one of the function's attributes: it is
/// taken out, so that tokio never sees our `fn main` (it would add its own
/// error about the missing `async`). Above, tokio has already rewritten the
/// function into a sync `main` that blocks on its runtime; that shape is
/// recognized by what tokio's expansion writes, and left to compile so that
/// ours is the only error.
pub(crate) fn tokio_main(item: &mut ItemFn) -> Result<(), Error> {
    let mut errors = Errors::default();
    for attr in item.take_attrs(is_tokio_main) {
        errors.push(Error::new_spanned(attr, STACKED_TOKIO_MAIN));
    }
    if let Some(span) = expanded_by_tokio_main(item) {
        errors.push(Error::new(span, STACKED_TOKIO_MAIN));
    }
    errors.finish()
}

/// `#[tokio::main]`, `#[::tokio::main]`, with or without arguments.
fn is_tokio_main(attr: &TokenStream) -> bool {
    let Some(TokenTree::Group(group)) = attr.clone().into_iter().nth(1) else {
        return false;
    };
    let mut tokens: Vec<TokenTree> = group.stream().into_iter().collect();
    if matches!(tokens.last(), Some(TokenTree::Group(args)) if args.delimiter() == Delimiter::Parenthesis)
    {
        tokens.pop();
    }
    let path: String = tokens.iter().map(ToString::to_string).collect();
    path == "tokio::main" || path == "::tokio::main"
}

/// Where `#[tokio::main]` was, when it ran above `#[graceful_main]`: a sync
/// `main` whose body starts with `let body = async` and ends with tokio's
/// `#[allow(clippy::expect_used, …)]` and its `block_on(body)`, its tokens
/// spanned at the `#[tokio::main]` that wrote them.
fn expanded_by_tokio_main(item: &ItemFn) -> Option<proc_macro2::Span> {
    if item.is_async() {
        return None;
    }
    let body: Vec<TokenTree> = item.body.stream().into_iter().collect();
    let starts_like_tokio = matches!(
        body.as_slice(),
        [TokenTree::Ident(let_), TokenTree::Ident(name), TokenTree::Punct(eq), TokenTree::Ident(async_), ..]
            if let_ == "let" && name == "body" && eq.as_char() == '=' && async_ == "async"
    );
    if !starts_like_tokio {
        return None;
    }
    // The last `#[allow(…)]` at the top level, then `block_on` after it,
    // bare or in tokio's final block.
    let allow = body.windows(2).rposition(|pair| match pair {
        [TokenTree::Punct(pound), TokenTree::Group(attr)] => {
            pound.as_char() == '#'
                && attr.delimiter() == Delimiter::Bracket
                && is_allow_expect_used(attr.stream())
        }
        _ => false,
    })?;
    let is_block_on =
        |token: &TokenTree| matches!(token, TokenTree::Ident(ident) if ident == "block_on");
    let found = body[allow + 2..].iter().any(|token| match token {
        TokenTree::Group(group) if group.delimiter() == Delimiter::Brace => {
            group.stream().into_iter().any(|token| is_block_on(&token))
        }
        token => is_block_on(token),
    });
    found.then(|| body[0].span())
}

/// `allow(clippy::expect_used, …)`, compared token by token: how a token
/// stream prints differs between the compiler and tests.
fn is_allow_expect_used(attr: TokenStream) -> bool {
    let mut tokens = attr.into_iter();
    let is_allow = matches!(tokens.next(), Some(TokenTree::Ident(allow)) if allow == "allow");
    let Some(TokenTree::Group(lints)) = tokens.next() else {
        return false;
    };
    let first: String = lints
        .stream()
        .into_iter()
        .take(4)
        .map(|token| token.to_string())
        .collect();
    is_allow && first == "clippy::expect_used"
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
    use super::{options, tokio_main};
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

    /// The error `tokio_main` gives, and the attributes left on the function.
    fn stacked(item: TokenStream) -> (Option<String>, Vec<String>) {
        let mut item = item::parse(item).unwrap();
        let error = tokio_main(&mut item).err().map(|error| error.to_string());
        let attrs = item.attrs.iter().map(ToString::to_string).collect();
        (error, attrs)
    }

    const STACKED: &str = "remove `#[tokio::main]`: `#[graceful_main]` builds the tokio runtime \
                           itself, and takes `flavor` and `worker_threads` as `#[tokio::main]` does";

    #[test]
    fn tokio_main_below_is_taken_out() {
        for attr in [
            quote!(#[tokio::main]),
            quote!(#[::tokio::main]),
            quote!(#[tokio::main(flavor = "current_thread", worker_threads = 2)]),
            quote!(#[tokio :: main()]),
        ] {
            let (error, attrs) = stacked(quote!(
                #[inline]
                #attr
                async fn main() {}
            ));
            assert_eq!(error.as_deref(), Some(STACKED), "{attr}");
            assert_eq!(attrs, ["# [inline]"], "{attr}");
        }
    }

    #[test]
    fn other_attributes_stay() {
        for attr in [
            quote!(#[tokio::test]),
            quote!(#[tokio_main]),
            quote!(#[main]),
            quote!(#[my::tokio::main]),
            quote!(#[tokio::main::inner]),
            quote!(#[tokio::main = "x"]),
            quote!(#[doc = "tokio::main"]),
        ] {
            let (error, attrs) = stacked(quote!(
                #attr
                async fn main() {}
            ));
            assert_eq!(error, None, "{attr}");
            assert_eq!(attrs, [attr.to_string()]);
        }
    }

    #[test]
    fn tokio_main_above_is_recognized() {
        // What tokio 1.x writes, with the block its `main` has had since
        // tokio-macros 2, and the bare statement before.
        let current = quote!(
            fn main() {
                let body = async {
                    work().await;
                };
                let body = {
                    if false {
                        let _: &dyn ::core::future::Future<Output = ()> = &body;
                    }
                    body
                };
                #[allow(
                    clippy::expect_used,
                    clippy::diverging_sub_expression,
                    clippy::needless_return
                )]
                {
                    use tokio::runtime::Builder;
                    return Builder::new_multi_thread()
                        .enable_all()
                        .build()
                        .expect("Failed building the Runtime")
                        .block_on(body);
                }
            }
        );
        let older = quote!(
            fn main() -> Result<(), std::io::Error> {
                let body = async { Ok(()) };
                #[allow(clippy::expect_used)]
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("Failed building the Runtime")
                    .block_on(body)
            }
        );
        for item in [current, older] {
            assert_eq!(stacked(item).0.as_deref(), Some(STACKED));
        }
    }

    #[test]
    fn own_runtime_in_main_is_not_tokio_main() {
        for item in [
            quote!(
                fn main() {
                    let body = async {};
                    futures::executor::block_on(body);
                }
            ),
            quote!(
                fn main() {
                    let rt = tokio::runtime::Runtime::new().unwrap();
                    #[allow(clippy::expect_used)]
                    rt.block_on(async {});
                }
            ),
            quote!(
                async fn main() {
                    let body = async {};
                    #[allow(clippy::expect_used)]
                    {
                        block_on(body);
                    }
                }
            ),
        ] {
            assert_eq!(stacked(item), (None, vec![]));
        }
    }
}
