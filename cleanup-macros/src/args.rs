//! The attribute's arguments: `timeout = "5s", signals = "TERM,INT", exit =
//! "code", quiet, guardian, flavor = "current_thread", worker_threads = 4,
//! crate = "my_cleanup"`, read first as `key [= value]` pairs, then checked
//! into [`Args`]. Rules between options, or between an option and the
//! function, are in `check`.

use proc_macro2::{Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{ToTokens, TokenStreamExt};
use syn::{Error, LitInt, LitStr};

use crate::errors::Errors;
use crate::signals::{self, Signal};

/// What the user asked for; `None`/`false` keeps the runtime's default.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Args {
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) drain_delay_ms: Option<Keyed<u64>>,
    pub(crate) signals: Option<Vec<Signal>>,
    pub(crate) exit: Option<Exit>,
    pub(crate) quiet: bool,
    pub(crate) guardian: bool,
    pub(crate) flavor: Option<Keyed<Flavor>>,
    pub(crate) worker_threads: Option<Keyed<usize>>,
    /// `crate = "…"`; `None` is `::cleanup`.
    pub(crate) krate: Option<CratePath>,
}

/// A value with the key it was given under, so that a rule between options
/// can point at the key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Keyed<T> {
    pub(crate) key: Ident,
    pub(crate) value: T,
}

/// `exit = "…"`: how the process ends after a signal-triggered shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    Signal,
    Code,
    Zero,
}

impl Exit {
    /// The variant of `::cleanup::__private::Exit`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Exit::Signal => "Signal",
            Exit::Code => "Code",
            Exit::Zero => "Zero",
        }
    }
}

/// `flavor = "…"`: the tokio runtime `async fn main` runs on, as
/// `#[tokio::main]` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    MultiThread,
    CurrentThread,
}

/// `crate = "…"`: the path the generated code reaches the runtime through,
/// for a crate that renamed the dependency (`my_cleanup = { package =
/// "graceful-cleanup", … }`). Plain identifiers joined by `::`, so that the
/// expansion can append `::__private` to it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CratePath {
    pub(crate) leading_colon: bool,
    /// Spanned at the string, so that a path that does not resolve is
    /// reported there.
    pub(crate) segments: Vec<Ident>,
}

impl ToTokens for CratePath {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 || self.leading_colon {
                let mut colon = Punct::new(':', Spacing::Joint);
                colon.set_span(segment.span());
                tokens.append(colon);
                let mut colon = Punct::new(':', Spacing::Alone);
                colon.set_span(segment.span());
                tokens.append(colon);
            }
            tokens.append(segment.clone());
        }
    }
}

const KEYS: &str = "`timeout`, `drain_delay`, `signals`, `exit`, `quiet`, `guardian`, \
                    `flavor`, `worker_threads`, `crate`";

const NOT_A_PATH: &str = "`crate` must be a path such as `crate = \"my_cleanup\"`";

const MALFORMED: &str = "expected `#[graceful_main]` or `#[graceful_main(timeout = \"5s\")]`";

/// One `key` or `key = value` between commas, before any meaning is given to it.
struct RawArg {
    key: Ident,
    /// The `=` and what follows it up to the next comma.
    value: Option<(Punct, Vec<TokenTree>)>,
}

/// Reads the arguments. A syntax error stops at the first one; otherwise every
/// bad argument gets its own error.
pub(crate) fn parse(tokens: TokenStream) -> Result<Args, Error> {
    let mut args = Args::default();
    let mut errors = Errors::default();
    let mut seen = Vec::new();
    for arg in split(tokens)? {
        let key = arg.key.to_string();
        if seen.contains(&key) {
            errors.push(Error::new(
                arg.key.span(),
                format!("duplicate `{key}` argument"),
            ));
            continue;
        }
        let result = match key.as_str() {
            "timeout" => arg.string("timeout = \"10s\"").and_then(|lit| {
                let ms = cleanup_duration::parse_millis(&lit.value());
                args.timeout_ms = Some(ms.map_err(|error| Error::new(lit.span(), error))?);
                Ok(())
            }),
            "drain_delay" => arg.string("drain_delay = \"5s\"").and_then(|lit| {
                let ms = cleanup_duration::parse_millis(&lit.value()).map_err(|error| {
                    let message = match error.is_zero() {
                        true => "a zero `drain_delay` is no delay, leave the argument out".into(),
                        false => error.to_string(),
                    };
                    Error::new(lit.span(), message)
                })?;
                args.drain_delay_ms = Some(arg.keyed(ms));
                Ok(())
            }),
            "signals" => arg.string("signals = \"TERM,INT\"").and_then(|lit| {
                let list = signals::parse_list(&lit.value());
                args.signals = Some(list.map_err(|message| Error::new(lit.span(), message))?);
                Ok(())
            }),
            "exit" => arg.string("exit = \"signal\"").and_then(|lit| {
                args.exit = Some(match lit.value().as_str() {
                    "signal" => Exit::Signal,
                    "code" => Exit::Code,
                    "zero" => Exit::Zero,
                    other => {
                        return Err(Error::new(
                            lit.span(),
                            format!(
                                "unknown exit policy `{other}`, expected `signal`, `code` or `zero`"
                            ),
                        ))
                    }
                });
                Ok(())
            }),
            "quiet" => arg.flag().map(|()| args.quiet = true),
            "guardian" => arg.flag().map(|()| args.guardian = true),
            "flavor" => arg.string("flavor = \"current_thread\"").and_then(|lit| {
                let value = match lit.value().as_str() {
                    "multi_thread" => Flavor::MultiThread,
                    "current_thread" => Flavor::CurrentThread,
                    other => {
                        return Err(Error::new(
                            lit.span(),
                            format!(
                            "unknown flavor `{other}`, expected `multi_thread` or `current_thread`"
                        ),
                        ))
                    }
                };
                args.flavor = Some(arg.keyed(value));
                Ok(())
            }),
            "worker_threads" => arg.integer("worker_threads = 4").and_then(|lit| {
                let value = lit.base10_parse::<usize>().map_err(|_| {
                    Error::new(
                        lit.span(),
                        format!("`{}` is too many `worker_threads`", lit.base10_digits()),
                    )
                })?;
                if value == 0 {
                    return Err(Error::new(
                        lit.span(),
                        "`worker_threads` cannot be zero, use at least `1`",
                    ));
                }
                args.worker_threads = Some(arg.keyed(value));
                Ok(())
            }),
            "crate" => arg.string("crate = \"my_cleanup\"").and_then(|lit| {
                args.krate = Some(crate_path(&lit)?);
                Ok(())
            }),
            _ => Err(Error::new(
                arg.key.span(),
                format!("unknown argument `{key}`, expected one of {KEYS}"),
            )),
        };
        if let Err(error) = result {
            errors.push(error);
        }
        seen.push(key);
    }
    errors.finish()?;
    Ok(args)
}

/// `crate = "…"` read from arguments that [`parse`] rejected, so that the
/// expansion that goes with the errors still names the runtime the way the
/// crate does, and no "unresolved `cleanup`" joins them.
pub(crate) fn find_crate_path(tokens: TokenStream) -> Option<CratePath> {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    tokens.windows(3).find_map(|window| match window {
        [TokenTree::Ident(key), TokenTree::Punct(eq), value @ TokenTree::Literal(_)]
            if key == "crate" && eq.as_char() == '=' =>
        {
            let lit = syn::parse2::<LitStr>(value.to_token_stream()).ok()?;
            crate_path(&lit).ok()
        }
        _ => None,
    })
}

/// The string of `crate = "…"` as a path: `my_cleanup`, `::my_cleanup`,
/// `crate::reexports::cleanup`. Checked here rather than left to rustc, whose
/// error about `my-cleanup::__private::run` would point at code the user
/// never wrote.
fn crate_path(lit: &LitStr) -> Result<CratePath, Error> {
    let text = lit.value();
    let not_a_path = || {
        let message = match text.contains('-') {
            // The package name, or the key of a renamed dependency, where the
            // code needs the name it imports.
            true => format!(
                "{NOT_A_PATH}, the name the code uses: `-` becomes `_`, and the package \
                 `graceful-cleanup` is `cleanup`"
            ),
            false => NOT_A_PATH.to_owned(),
        };
        Error::new(lit.span(), message)
    };
    let tokens: TokenStream = text.parse().map_err(|_| not_a_path())?;
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let leading_colon = is_path_sep(&tokens);
    let mut rest = if leading_colon {
        &tokens[2..]
    } else {
        &tokens[..]
    };
    let mut segments = Vec::new();
    loop {
        match rest {
            [TokenTree::Ident(ident), tail @ ..] if is_segment(ident, segments.last()) => {
                let mut ident = ident.clone();
                ident.set_span(lit.span());
                segments.push(ident);
                rest = tail;
            }
            _ => return Err(not_a_path()),
        }
        match rest {
            [] => break,
            _ if is_path_sep(rest) => rest = &rest[2..],
            _ => return Err(not_a_path()),
        }
    }
    Ok(CratePath {
        leading_colon,
        segments,
    })
}

/// Whether the tokens start with `::`.
fn is_path_sep(tokens: &[TokenTree]) -> bool {
    matches!(
        tokens,
        [TokenTree::Punct(first), TokenTree::Punct(second), ..]
            if first.as_char() == ':' && first.spacing() == Spacing::Joint && second.as_char() == ':'
    )
}

/// Whether `ident` can follow `previous` in a module path: not a keyword,
/// but for `crate`, `self` and `super` first, and `super` after `super`.
fn is_segment(ident: &Ident, previous: Option<&Ident>) -> bool {
    const KEYWORDS: &[&str] = &[
        "Self", "_", "abstract", "as", "async", "await", "become", "box", "break", "const",
        "continue", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "if",
        "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv",
        "pub", "ref", "return", "static", "struct", "trait", "true", "try", "type", "typeof",
        "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
    ];
    let name = ident.to_string();
    match name.as_str() {
        "crate" | "self" => previous.is_none(),
        "super" => previous.is_none_or(|previous| previous == "super"),
        name => !KEYWORDS.contains(&name),
    }
}

/// Splits at top-level commas into `key [= value]`; groups are single token
/// trees, so commas inside them are not seen.
fn split(tokens: TokenStream) -> Result<Vec<RawArg>, Error> {
    let mut args = Vec::new();
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let key = match token {
            TokenTree::Ident(key) => key,
            other => return Err(malformed(other.span())),
        };
        let value = match tokens.next() {
            None => None,
            Some(TokenTree::Punct(comma)) if comma.as_char() == ',' => {
                args.push(RawArg { key, value: None });
                continue;
            }
            Some(TokenTree::Punct(eq)) if eq.as_char() == '=' => {
                let mut value = Vec::new();
                while let Some(token) = tokens.next_if(|token| !is_comma(token)) {
                    value.push(token);
                }
                tokens.next();
                Some((eq, value))
            }
            Some(other) => return Err(malformed(other.span())),
        };
        if let Some((_, value)) = &value {
            // `timeout = "5s" x`: the value is fine, the rest is junk.
            if let [TokenTree::Literal(_), junk, ..] = value.as_slice() {
                return Err(malformed(junk.span()));
            }
        }
        args.push(RawArg { key, value });
    }
    Ok(args)
}

impl RawArg {
    /// The value as a string literal; `example` shows the user one.
    fn string(&self, example: &str) -> Result<LitStr, Error> {
        self.literal(&format!("expected a string such as `{example}`"))
    }

    /// The value as an integer literal; `example` shows the user one.
    fn integer(&self, example: &str) -> Result<LitInt, Error> {
        self.literal(&format!("expected an integer such as `{example}`"))
    }

    /// The value as one literal of the kind `L`, or `message` at what is there.
    fn literal<L: syn::parse::Parse>(&self, message: &str) -> Result<L, Error> {
        match &self.value {
            None => Err(Error::new(self.key.span(), message)),
            Some((eq, value)) => match value.as_slice() {
                [] => Err(Error::new(eq.span(), message)),
                [token] => syn::parse2(token.to_token_stream())
                    .map_err(|_| Error::new(token.span(), message)),
                tokens => Err(Error::new_spanned(
                    tokens.iter().cloned().collect::<TokenStream>(),
                    message,
                )),
            },
        }
    }

    fn keyed<T>(&self, value: T) -> Keyed<T> {
        Keyed {
            key: self.key.clone(),
            value,
        }
    }

    /// A bare flag such as `quiet` or `guardian`.
    fn flag(&self) -> Result<(), Error> {
        match &self.value {
            None => Ok(()),
            Some((eq, value)) => {
                let mut tokens = eq.to_token_stream();
                tokens.extend(value.iter().cloned());
                Err(Error::new_spanned(
                    tokens,
                    format!("`{}` takes no value", self.key),
                ))
            }
        }
    }
}

fn is_comma(token: &TokenTree) -> bool {
    matches!(token, TokenTree::Punct(punct) if punct.as_char() == ',')
}

fn malformed(span: Span) -> Error {
    Error::new(span, MALFORMED)
}

#[cfg(test)]
mod tests {
    use super::{find_crate_path, parse, Args, Exit, Flavor, Keyed};
    use crate::signals::Signal;
    use proc_macro2::{Ident, Span};
    use quote::quote;

    fn message(tokens: proc_macro2::TokenStream) -> String {
        let error = parse(tokens).unwrap_err();
        let messages: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
        messages.join("\n")
    }

    #[test]
    fn empty() {
        assert_eq!(parse(quote!()).unwrap(), Args::default());
    }

    #[test]
    fn all_options() {
        let args = parse(quote!(
            timeout = "5s",
            drain_delay = "2.5s",
            signals = "TERM,INT",
            exit = "code",
            quiet,
            guardian,
            flavor = "multi_thread",
            worker_threads = 4
        ))
        .unwrap();
        fn keyed<T>(key: &str, value: T) -> Keyed<T> {
            Keyed {
                key: Ident::new(key, Span::call_site()),
                value,
            }
        }
        assert_eq!(
            args,
            Args {
                timeout_ms: Some(5_000),
                drain_delay_ms: Some(keyed("drain_delay", 2_500)),
                signals: Some(vec![Signal::Term, Signal::Int]),
                exit: Some(Exit::Code),
                quiet: true,
                guardian: true,
                flavor: Some(keyed("flavor", Flavor::MultiThread)),
                worker_threads: Some(keyed("worker_threads", 4)),
                krate: None,
            }
        );
    }

    #[test]
    fn runtime_options() {
        let flavor = |tokens| parse(tokens).unwrap().flavor.map(|flavor| flavor.value);
        assert_eq!(flavor(quote!()), None);
        assert_eq!(
            flavor(quote!(flavor = "current_thread")),
            Some(Flavor::CurrentThread)
        );
        assert_eq!(
            flavor(quote!(flavor = "multi_thread")),
            Some(Flavor::MultiThread)
        );
        let threads = |tokens| {
            parse(tokens)
                .unwrap()
                .worker_threads
                .map(|threads| threads.value)
        };
        assert_eq!(threads(quote!(worker_threads = 1)), Some(1));
        assert_eq!(threads(quote!(worker_threads = 0x10)), Some(16));
        assert_eq!(threads(quote!(worker_threads = 8usize)), Some(8));
    }

    #[test]
    fn bad_runtime_options() {
        assert_eq!(
            message(quote!(flavor = "single_thread")),
            "unknown flavor `single_thread`, expected `multi_thread` or `current_thread`"
        );
        assert_eq!(
            message(quote!(flavor = current_thread)),
            "expected a string such as `flavor = \"current_thread\"`"
        );
        let not_an_integer = "expected an integer such as `worker_threads = 4`";
        assert_eq!(message(quote!(worker_threads = "4")), not_an_integer);
        assert_eq!(message(quote!(worker_threads = 4.0)), not_an_integer);
        assert_eq!(message(quote!(worker_threads = -1)), not_an_integer);
        assert_eq!(message(quote!(worker_threads = N)), not_an_integer);
        assert_eq!(message(quote!(worker_threads)), not_an_integer);
        assert_eq!(message(quote!(worker_threads =)), not_an_integer);
        assert_eq!(
            message(quote!(worker_threads = 0)),
            "`worker_threads` cannot be zero, use at least `1`"
        );
        assert_eq!(
            message(quote!(worker_threads = 99999999999999999999999)),
            "`99999999999999999999999` is too many `worker_threads`"
        );
        assert_eq!(
            message(quote!(worker_threads = 2, worker_threads = 2)),
            "duplicate `worker_threads` argument"
        );
    }

    #[test]
    fn any_order_and_trailing_comma() {
        let args = parse(quote!(quiet, exit = "zero", timeout = r"1m30s",)).unwrap();
        assert_eq!(args.timeout_ms, Some(90_000));
        assert_eq!(args.exit, Some(Exit::Zero));
        assert!(args.quiet);
        assert_eq!(
            parse(quote!(exit = "signal")).unwrap().exit,
            Some(Exit::Signal)
        );
    }

    #[test]
    fn unknown_argument() {
        assert_eq!(
            message(quote!(timout = "5s")),
            "unknown argument `timout`, expected one of `timeout`, `drain_delay`, `signals`, \
             `exit`, `quiet`, `guardian`, `flavor`, `worker_threads`, `crate`"
        );
        assert!(message(quote!(verbose)).starts_with("unknown argument `verbose`"));
    }

    #[test]
    fn duplicate_argument() {
        assert_eq!(
            message(quote!(timeout = "5s", timeout = "6s")),
            "duplicate `timeout` argument"
        );
        assert_eq!(message(quote!(quiet, quiet)), "duplicate `quiet` argument");
        assert_eq!(
            message(quote!(guardian, quiet, guardian)),
            "duplicate `guardian` argument"
        );
        // A bad first value still counts as given.
        assert_eq!(
            message(quote!(exit = "never", exit = "code")),
            "unknown exit policy `never`, expected `signal`, `code` or `zero`\nduplicate `exit` argument"
        );
    }

    #[test]
    fn value_not_a_string() {
        assert_eq!(
            message(quote!(timeout = 5)),
            "expected a string such as `timeout = \"10s\"`"
        );
        assert_eq!(
            message(quote!(signals = TERM)),
            "expected a string such as `signals = \"TERM,INT\"`"
        );
        assert_eq!(
            message(quote!(exit = -1)),
            "expected a string such as `exit = \"signal\"`"
        );
        assert_eq!(
            message(quote!(timeout)),
            "expected a string such as `timeout = \"10s\"`"
        );
        assert_eq!(
            message(quote!(timeout =)),
            "expected a string such as `timeout = \"10s\"`"
        );
        assert_eq!(
            message(quote!(timeout = b"5s")),
            "expected a string such as `timeout = \"10s\"`"
        );
    }

    #[test]
    fn bad_values() {
        assert!(message(quote!(timeout = "5x")).starts_with("unknown unit `x`"));
        assert!(message(quote!(signals = "TERM,KILL")).starts_with("`SIGKILL` cannot be caught"));
        assert_eq!(
            message(quote!(exit = "143")),
            "unknown exit policy `143`, expected `signal`, `code` or `zero`"
        );
    }

    #[test]
    fn quiet_with_value() {
        assert_eq!(message(quote!(quiet = true)), "`quiet` takes no value");
    }

    #[test]
    fn guardian() {
        assert!(!parse(quote!()).unwrap().guardian);
        assert!(parse(quote!(guardian)).unwrap().guardian);
        let args = parse(quote!(timeout = "5s", guardian, quiet)).unwrap();
        assert!(args.guardian && args.quiet);
        assert_eq!(args.timeout_ms, Some(5_000));
        for value in [quote!(guardian = true), quote!(guardian = "yes")] {
            assert_eq!(message(value), "`guardian` takes no value");
        }
        assert_eq!(message(quote!(guardian =)), "`guardian` takes no value");
        assert_eq!(
            message(quote!(guardian = "yes", quiet = 1)),
            "`guardian` takes no value\n`quiet` takes no value"
        );
    }

    #[test]
    fn a_zero_drain_delay_says_to_leave_it_out() {
        assert_eq!(
            message(quote!(drain_delay = "0s")),
            "a zero `drain_delay` is no delay, leave the argument out"
        );
    }

    #[test]
    fn every_mistake_is_reported() {
        assert_eq!(
            message(quote!(timeout = "0s", exit = "never", verbose)),
            "a zero timeout would skip all cleanup, use at least `1ms`\n\
             unknown exit policy `never`, expected `signal`, `code` or `zero`\n\
             unknown argument `verbose`, expected one of `timeout`, `drain_delay`, `signals`, \
             `exit`, `quiet`, `guardian`, `flavor`, `worker_threads`, `crate`"
        );
    }

    #[test]
    fn malformed() {
        let expected = "expected `#[graceful_main]` or `#[graceful_main(timeout = \"5s\")]`";
        assert_eq!(message(quote!(timeout "5s")), expected);
        assert_eq!(message(quote!(timeout = "5s" x)), expected);
        assert_eq!(message(quote!(timeout = "5s"; quiet)), expected);
        assert_eq!(message(quote!("5s")), expected);
        assert_eq!(message(quote!(, quiet)), expected);
        assert_eq!(message(quote!(quiet,, exit = "code")), expected);
        assert_eq!(message(quote!(quiet())), expected);
        assert_eq!(message(quote!(cleanup::quiet)), expected);
    }

    /// The path as the expansion writes it, `None` when `crate` is not given.
    fn krate(tokens: proc_macro2::TokenStream) -> Option<String> {
        let path = parse(tokens).unwrap().krate?;
        Some(quote!(#path).to_string())
    }

    #[test]
    fn crate_path() {
        assert_eq!(krate(quote!(quiet)), None);
        assert_eq!(
            krate(quote!(crate = "my_cleanup")).as_deref(),
            Some("my_cleanup")
        );
        assert_eq!(
            krate(quote!(crate = "::my_cleanup")).as_deref(),
            Some(":: my_cleanup")
        );
        assert_eq!(
            krate(quote!(crate = " crate :: deps::cleanup ")).as_deref(),
            Some("crate :: deps :: cleanup")
        );
        assert_eq!(
            krate(quote!(crate = "super::super::cleanup")).as_deref(),
            Some("super :: super :: cleanup")
        );
        assert_eq!(
            krate(quote!(crate = "r#async::cleanup")).as_deref(),
            Some("r#async :: cleanup")
        );
        assert_eq!(
            krate(quote!(timeout = "5s", crate = "self::cleanup", quiet)).as_deref(),
            Some("self :: cleanup")
        );
    }

    #[test]
    fn crate_not_a_path() {
        let expected = "`crate` must be a path such as `crate = \"my_cleanup\"`";
        for text in [
            "",
            "  ",
            "::",
            "my_cleanup::",
            "my_cleanup::::x",
            ":my_cleanup",
            "my_cleanup::Thing<u8>",
            "my cleanup",
            "\"my_cleanup\"",
            "fn",
            "cleanup::crate",
            "cleanup::super",
            "self::self",
            "(cleanup)",
            "cleanup;",
            "1cleanup",
            "\"unclosed",
        ] {
            let lit = proc_macro2::Literal::string(text);
            assert_eq!(message(quote!(crate = #lit)), expected, "{text:?}");
        }
        assert_eq!(
            message(quote!(crate = "graceful-cleanup")),
            "`crate` must be a path such as `crate = \"my_cleanup\"`, the name the code uses: \
             `-` becomes `_`, and the package `graceful-cleanup` is `cleanup`"
        );
        assert_eq!(
            message(quote!(crate = my_cleanup)),
            "expected a string such as `crate = \"my_cleanup\"`"
        );
        assert_eq!(
            message(quote!(crate = "a", crate = "b")),
            "duplicate `crate` argument"
        );
    }

    #[test]
    fn crate_path_survives_other_mistakes() {
        let found = |tokens| find_crate_path(tokens).map(|path| quote!(#path).to_string());
        assert_eq!(
            found(quote!(timeout = "5", crate = "my_cleanup")).as_deref(),
            Some("my_cleanup")
        );
        assert_eq!(
            found(quote!(timeout "5s", crate = "::my_cleanup")).as_deref(),
            Some(":: my_cleanup")
        );
        assert_eq!(found(quote!(timeout = "5", crate = "my-cleanup")), None);
        assert_eq!(found(quote!(timeout = "5", crate = my_cleanup)), None);
        assert_eq!(found(quote!(timeout = "5")), None);
    }
}
