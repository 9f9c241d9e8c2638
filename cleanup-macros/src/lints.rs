//! What compiles but does not do what it reads as: a guard or a shield
//! bound to `_`, and a `main` returning `anyhow::Result` or `eyre::Result`
//! in a build without the feature that understands them.

use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use quote::{format_ident, quote_spanned};
use syn::Error;

use crate::args::CratePath;
use crate::errors::Errors;
use crate::item::{ItemFn, ReturnType};

/// The values that do their work when dropped, and what dropping one at
/// once does instead.
/// (function, its arguments as the message writes them, a binding, what
/// dropping it does).
const DROPPED_AT_ONCE: [(&str, &str, &str, &str); 3] = [
    (
        "guard",
        "(..)",
        "_guard",
        "runs its cleanup now, not at the end",
    ),
    (
        "owned_guard",
        "(..)",
        "_guard",
        "hands its value to the cleanup now, not at the end",
    ),
    (
        "shield",
        "()",
        "_shield",
        "ends the shield now, before the work it was to cover",
    ),
];

/// Every `let _ = cleanup::guard(..);` (or `owned_guard`, `shield`, or
/// `_ = …;`) in `main`'s body, closures and blocks included. `_` is not a
/// binding: the value is dropped at the end of the statement. rustc says
/// nothing (its `must_use` is satisfied by `let _`), so this is an error,
/// as rustc's own `let_underscore_lock` is for a lock guard.
///
/// Only a call that names our function: bare (`use cleanup::guard;`), or
/// through `cleanup::`, `::cleanup::` or the `crate = "…"` path, and only
/// when the call is the whole right-hand side.
pub(crate) fn dropped_at_once(item: &ItemFn, krate: Option<&CratePath>) -> Result<(), Error> {
    let krate: Vec<String> = match krate {
        Some(path) => path.segments.iter().map(ToString::to_string).collect(),
        None => vec!["cleanup".to_owned()],
    };
    let mut errors = Errors::default();
    scan(item.body.stream(), &krate, &mut errors);
    errors.finish()
}

fn scan(stream: TokenStream, krate: &[String], errors: &mut Errors) {
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    for (i, token) in tokens.iter().enumerate() {
        if let TokenTree::Group(group) = token {
            scan(group.stream(), krate, errors);
        }
        let statement_start = i == 0 || is_punct(&tokens[i - 1], ';');
        let rest = match &tokens[i..] {
            [TokenTree::Ident(let_), TokenTree::Ident(underscore), TokenTree::Punct(eq), rest @ ..]
                if let_ == "let" && underscore == "_" && is_assign(eq) =>
            {
                rest
            }
            [TokenTree::Ident(underscore), TokenTree::Punct(eq), rest @ ..]
                if statement_start && underscore == "_" && is_assign(eq) =>
            {
                rest
            }
            _ => continue,
        };
        let Some((name, path_len)) = dropped_call(rest, krate) else {
            continue;
        };
        let (_, call, binding, what) = DROPPED_AT_ONCE
            .iter()
            .find(|(function, ..)| *function == name)
            .expect("dropped_call returns one of DROPPED_AT_ONCE's names");
        let written: String = rest[..path_len].iter().map(ToString::to_string).collect();
        let statement: TokenStream = tokens[i..tokens.len() - rest.len() + path_len + 1]
            .iter()
            .cloned()
            .collect();
        errors.push(Error::new_spanned(
            statement,
            format!(
                "`_` drops the value of `{written}{call}` at once, which {what}: bind it to a \
                 name that lives as long as the work it covers, `let {binding} = \
                 {written}{call};`"
            ),
        ));
    }
}

/// `=` alone, not the start of `==` or `=>`.
fn is_assign(punct: &proc_macro2::Punct) -> bool {
    punct.as_char() == '=' && punct.spacing() == Spacing::Alone
}

fn is_punct(token: &TokenTree, c: char) -> bool {
    matches!(token, TokenTree::Punct(punct) if punct.as_char() == c)
}

/// `path(args)` followed by `;` or nothing, where the path is one of our
/// functions: its name and the number of tokens in the path.
fn dropped_call(rest: &[TokenTree], krate: &[String]) -> Option<(String, usize)> {
    let mut segments = Vec::new();
    let mut len = 0;
    let leading_colon = is_punct(rest.first()?, ':');
    if leading_colon {
        len = 2;
    }
    loop {
        let TokenTree::Ident(segment) = rest.get(len)? else {
            return None;
        };
        segments.push(segment.to_string());
        len += 1;
        match (rest.get(len), rest.get(len + 1)) {
            (Some(a), Some(b)) if is_punct(a, ':') && is_punct(b, ':') => len += 2,
            _ => break,
        }
    }
    let is_call = matches!(rest.get(len), Some(TokenTree::Group(args)) if args.delimiter() == Delimiter::Parenthesis);
    let ends = rest.get(len + 1).is_none_or(|token| is_punct(token, ';'));
    let (name, prefix) = segments.split_last()?;
    let ours = DROPPED_AT_ONCE
        .iter()
        .any(|(function, ..)| function == name);
    let through_us = (prefix.is_empty() && !leading_colon) || prefix == krate;
    (is_call && ends && ours && through_us).then(|| (name.clone(), len))
}

/// For `fn main() -> anyhow::Result<..>` (or `eyre::Result`, `color_eyre`'s,
/// `Result<_, anyhow::Error>`) in a build without the facade's `anyhow` or
/// `eyre` feature: a warning at the return type, naming the feature. Without
/// it a shutdown that reaches `main` as an error is printed as one
/// (`Error: shutting down …`, and a backtrace under `RUST_BACKTRACE`).
///
/// A proc macro cannot emit a warning on stable Rust: the use of a
/// `#[deprecated]` constant, spanned at the return type, is one (the
/// constant's name and note say what to do; `#[allow(deprecated)]` on
/// `main` silences it).
pub(crate) fn missing_feature(output: Option<&ReturnType>) -> Option<TokenStream> {
    let output = output?;
    let (feature, named) = error_crate(output.ty.clone())?;
    let enabled = match feature {
        "anyhow" => cfg!(feature = "anyhow"),
        _ => cfg!(feature = "eyre"),
    };
    if enabled {
        return None;
    }
    let span = first_span(&output.ty);
    let name = format_ident!(
        "enable_the_{}_feature_of_graceful_cleanup",
        feature,
        span = span
    );
    let note = format!(
        "`main` returns an error of `{named}`, and the `{feature}` feature of \
         `graceful-cleanup` is off: every stop that reaches `main` through `?` would print \
         `Error: shutting down (SIGTERM received)`. Turn it on: `graceful-cleanup = {{ \
         version = \"…\", features = [\"{feature}\"] }}`"
    );
    Some(quote_spanned! {span=>
        #[deprecated(note = #note)]
        #[allow(non_upper_case_globals)]
        const #name: () = ();
        let () = #name;
    })
}

/// Which feature the return type needs, and the crate it names.
fn error_crate(ty: TokenStream) -> Option<(&'static str, String)> {
    ty.into_iter().find_map(|token| match token {
        TokenTree::Ident(ident) if ident == "anyhow" => Some(("anyhow", ident.to_string())),
        TokenTree::Ident(ident) if ident == "eyre" || ident == "color_eyre" => {
            Some(("eyre", ident.to_string()))
        }
        TokenTree::Group(group) => error_crate(group.stream()),
        _ => None,
    })
}

fn first_span(ty: &TokenStream) -> Span {
    ty.clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |token| token.span())
}

#[cfg(test)]
mod tests {
    use super::{dropped_at_once, error_crate, missing_feature};
    use crate::{args, item};
    use proc_macro2::TokenStream;
    use quote::quote;

    fn errors(args: TokenStream, item: TokenStream) -> Vec<String> {
        let args = args::parse(args).unwrap();
        let item = item::parse(item).unwrap();
        match dropped_at_once(&item, args.krate.as_ref()) {
            Ok(()) => vec![],
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_guard_or_shield_bound_to_underscore_is_an_error() {
        let found = errors(
            quote!(),
            quote!(
                fn main() {
                    let _ = cleanup::guard(|| println!("bye"));
                    let _ = ::cleanup::owned_guard(file, |file| drop(file));
                    loop {
                        let _ = shield();
                        work();
                    }
                    std::thread::spawn(move || {
                        _ = cleanup::shield();
                    });
                }
            ),
        );
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found[0].starts_with(
            "`_` drops the value of `cleanup::guard(..)` at once, which runs its cleanup now, \
             not at the end: bind it to a name that lives as long as the work it covers, \
             `let _guard = cleanup::guard(..);`"
        ));
        assert!(found[1].contains("`::cleanup::owned_guard(..)`"));
        assert!(found[2].contains("`shield()` at once, which ends the shield now"));
        assert!(found[2].contains("`let _shield = shield();`"));
        assert!(found[3].contains("`cleanup::shield()`"));
    }

    #[test]
    fn the_renamed_crate_is_ours_too() {
        let main = quote!(
            fn main() {
                let _ = my_cleanup::guard(|| ());
                let _ = cleanup::guard(|| ());
            }
        );
        let found = errors(quote!(crate = "my_cleanup"), main);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("`my_cleanup::guard(..)`"));
    }

    #[test]
    fn what_is_not_a_dropped_guard_passes() {
        let found = errors(
            quote!(),
            quote!(
                fn main() {
                    let _guard = cleanup::guard(|| ());
                    let _shield = cleanup::shield();
                    let _ = cleanup::on_exit(|| ());
                    let _ = cleanup::remove_on_exit("x");
                    let _ = scopeguard::guard((), |_| ());
                    let _ = mutex.guard();
                    let _ = cleanup::guard(|| ()).defuse();
                    let _ = Some(cleanup::guard(|| ()));
                    let guard = cleanup::guard(|| ());
                    match x {
                        _ => cleanup::guard(|| ()),
                    }
                    if a == cleanup::shield() {}
                }
            ),
        );
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn error_crates_in_the_return_type() {
        let crate_of = |ty: TokenStream| error_crate(ty).map(|(feature, _)| feature);
        assert_eq!(crate_of(quote!(anyhow::Result<()>)), Some("anyhow"));
        assert_eq!(crate_of(quote!(::anyhow::Result<()>)), Some("anyhow"));
        assert_eq!(crate_of(quote!(Result<(), anyhow::Error>)), Some("anyhow"));
        assert_eq!(crate_of(quote!(eyre::Result<()>)), Some("eyre"));
        assert_eq!(crate_of(quote!(color_eyre::Result<()>)), Some("eyre"));
        assert_eq!(
            crate_of(quote!(Result<(), color_eyre::eyre::Report>)),
            Some("eyre")
        );
        assert_eq!(crate_of(quote!(Result<(), Box<dyn Error>>)), None);
        assert_eq!(crate_of(quote!(std::process::ExitCode)), None);
    }

    #[test]
    fn the_warning_is_there_only_without_the_feature() {
        let item = item::parse(quote!(
            fn main() -> anyhow::Result<()> {
                Ok(())
            }
        ))
        .unwrap();
        let warning = missing_feature(item.output.as_ref()).map(|tokens| tokens.to_string());
        if cfg!(feature = "anyhow") {
            assert_eq!(warning, None);
        } else {
            let warning = warning.unwrap();
            assert!(warning.contains("enable_the_anyhow_feature_of_graceful_cleanup"));
            assert!(warning.contains("features = [\\\"anyhow\\\"]"), "{warning}");
        }
    }
}
