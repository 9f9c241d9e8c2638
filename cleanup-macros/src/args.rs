//! The attribute's arguments: `timeout = "5s", signals = "TERM,INT", exit =
//! "code", quiet`, read first as `key [= value]` pairs, then checked into
//! [`Args`].

use proc_macro2::{Ident, Punct, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Error, LitStr};

use crate::duration;
use crate::errors::Errors;
use crate::signals::{self, Signal};

/// What the user asked for; `None`/`false` keeps the runtime's default.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Args {
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) signals: Option<Vec<Signal>>,
    pub(crate) exit: Option<Exit>,
    pub(crate) quiet: bool,
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
                let ms = duration::parse_millis(&lit.value());
                args.timeout_ms = Some(ms.map_err(|message| Error::new(lit.span(), message))?);
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
            _ => Err(Error::new(
                arg.key.span(),
                format!(
                    "unknown argument `{key}`, expected one of `timeout`, `signals`, `exit`, `quiet`"
                ),
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
        let message = format!("expected a string such as `{example}`");
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

    /// A bare flag such as `quiet`.
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
    use super::{parse, Args, Exit};
    use crate::signals::Signal;
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
            signals = "TERM,INT",
            exit = "code",
            quiet
        ))
        .unwrap();
        assert_eq!(
            args,
            Args {
                timeout_ms: Some(5_000),
                signals: Some(vec![Signal::Term, Signal::Int]),
                exit: Some(Exit::Code),
                quiet: true,
            }
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
            "unknown argument `timout`, expected one of `timeout`, `signals`, `exit`, `quiet`"
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
    fn every_mistake_is_reported() {
        assert_eq!(
            message(quote!(timeout = "0s", exit = "never", verbose)),
            "a zero timeout would skip all cleanup, use at least `1ms`\n\
             unknown exit policy `never`, expected `signal`, `code` or `zero`\n\
             unknown argument `verbose`, expected one of `timeout`, `signals`, `exit`, `quiet`"
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
}
