//! The item under the attribute, read as a function signature plus a body
//! that stays raw tokens: the body is never parsed, which keeps the macro
//! cheap to compile and rust-analyzer fast.

use proc_macro2::{Delimiter, Group, Ident, Spacing, Span, TokenStream, TokenTree};
use quote::{ToTokens, TokenStreamExt};
use syn::Error;

/// `#[attrs] vis qualifiers fn ident<generics>(inputs) -> output where … { body }`.
pub(crate) struct ItemFn {
    /// Outer attributes, doc comments included (`#[doc = "…"]`).
    pub(crate) attrs: Vec<TokenStream>,
    pub(crate) vis: TokenStream,
    /// `const`, `async`, `unsafe`, `extern` (with its ABI string left out).
    pub(crate) qualifiers: Vec<Ident>,
    pub(crate) fn_token: Ident,
    pub(crate) ident: Ident,
    pub(crate) generics: Option<TokenStream>,
    /// The parenthesized parameters.
    pub(crate) inputs: Group,
    pub(crate) output: Option<ReturnType>,
    pub(crate) where_clause: Option<TokenStream>,
    pub(crate) body: Group,
    /// Everything before the body, as written, for re-emitting the item.
    pub(crate) signature: TokenStream,
}

/// `-> Type`.
pub(crate) struct ReturnType {
    pub(crate) arrow: TokenStream,
    pub(crate) ty: TokenStream,
}

impl ReturnType {
    /// Whether the type mentions `impl`, which a closure's return type cannot.
    pub(crate) fn has_impl(&self) -> bool {
        fn any_impl(tokens: TokenStream) -> bool {
            tokens.into_iter().any(|token| match token {
                TokenTree::Ident(ident) => ident == "impl",
                TokenTree::Group(group) => any_impl(group.stream()),
                _ => false,
            })
        }
        any_impl(self.ty.clone())
    }
}

impl ToTokens for ReturnType {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.arrow.clone());
        tokens.extend(self.ty.clone());
    }
}

impl ItemFn {
    pub(crate) fn is_async(&self) -> bool {
        self.qualifiers.iter().any(|qualifier| qualifier == "async")
    }

    /// The item as the user wrote it.
    pub(crate) fn to_original(&self) -> TokenStream {
        let mut tokens = self.signature.clone();
        tokens.append(self.body.clone());
        tokens
    }

    /// Removes the outer attributes `pick` chooses, from the signature too,
    /// and returns them.
    pub(crate) fn take_attrs(&mut self, pick: impl Fn(&TokenStream) -> bool) -> Vec<TokenStream> {
        let (taken, kept): (Vec<_>, Vec<_>) = self.attrs.drain(..).partition(|attr| pick(attr));
        if !taken.is_empty() {
            // Each attribute is two tokens at the start of the signature,
            // `#` and `[…]`.
            let rest = self
                .signature
                .clone()
                .into_iter()
                .skip(2 * (taken.len() + kept.len()));
            self.signature = kept.iter().cloned().flatten().chain(rest).collect();
        }
        self.attrs = kept;
        taken
    }

    /// Moves the body's leading inner attributes (`#![allow(…)]`) out, since a
    /// closure or `async` block cannot carry them; they belong on the function
    /// instead.
    pub(crate) fn take_inner_attrs(&mut self) -> Vec<TokenStream> {
        let tokens: Vec<TokenTree> = self.body.stream().into_iter().collect();
        let mut attrs = Vec::new();
        let mut rest = tokens.as_slice();
        while let [TokenTree::Punct(pound), TokenTree::Punct(bang), TokenTree::Group(group), tail @ ..] =
            rest
        {
            if pound.as_char() != '#'
                || bang.as_char() != '!'
                || group.delimiter() != Delimiter::Bracket
            {
                break;
            }
            attrs.push(rest[..3].iter().cloned().collect());
            rest = tail;
        }
        if !attrs.is_empty() {
            let mut body = Group::new(Delimiter::Brace, rest.iter().cloned().collect());
            body.set_span(self.body.span());
            self.body = body;
        }
        attrs
    }
}

/// Reads a function. Anything else is an error at its first token after the
/// attributes and visibility, for the caller to report next to the item.
pub(crate) fn parse(item: TokenStream) -> Result<ItemFn, Error> {
    let tokens: Vec<TokenTree> = item.into_iter().collect();
    let mut cursor = Cursor {
        tokens: &tokens,
        pos: 0,
    };

    let mut attrs = Vec::new();
    while cursor.is_punct(0, '#') && cursor.is_group(1, Delimiter::Bracket) {
        attrs.push(cursor.take(2));
    }

    let mut vis = TokenStream::new();
    if cursor.is_ident(0, "pub") {
        let len = if cursor.is_group(1, Delimiter::Parenthesis) {
            2
        } else {
            1
        };
        vis = cursor.take(len);
    }

    let not_a_function =
        |span| Error::new(span, "`#[graceful_main]` can only be applied to `fn main`");
    let start = cursor.span();
    let mut qualifiers = Vec::new();
    while let Some(TokenTree::Ident(ident)) = cursor.peek(0) {
        match ident.to_string().as_str() {
            "const" | "async" | "unsafe" | "safe" | "default" => {}
            "extern" => {
                if matches!(cursor.peek(1), Some(TokenTree::Literal(_))) {
                    qualifiers.push(ident.clone());
                    cursor.pos += 2;
                    continue;
                }
            }
            _ => break,
        }
        qualifiers.push(ident.clone());
        cursor.pos += 1;
    }

    let fn_token = match cursor.peek(0) {
        Some(TokenTree::Ident(ident)) if ident == "fn" => ident.clone(),
        _ => return Err(not_a_function(start)),
    };
    cursor.pos += 1;
    let ident = match cursor.peek(0) {
        Some(TokenTree::Ident(ident)) => ident.clone(),
        _ => return Err(not_a_function(start)),
    };
    cursor.pos += 1;

    let generics = if cursor.is_punct(0, '<') {
        let len = cursor.angle_bracketed_len();
        Some(cursor.take(len))
    } else {
        None
    };

    let inputs = match cursor.peek(0) {
        Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Parenthesis => {
            group.clone()
        }
        _ => return Err(not_a_function(start)),
    };
    cursor.pos += 1;

    // The body is the last token; a `fn` without one is not ours to fix.
    let (body, before_body) = match tokens.split_last() {
        Some((TokenTree::Group(body), before)) if body.delimiter() == Delimiter::Brace => {
            (body.clone(), before.len())
        }
        _ => return Err(not_a_function(start)),
    };
    if cursor.pos > before_body {
        return Err(not_a_function(start));
    }

    let output = if cursor.is_punct(0, '-') && cursor.is_punct(1, '>') {
        let arrow = cursor.take(2);
        let len = (cursor.pos..before_body)
            .position(|pos| matches!(&tokens[pos], TokenTree::Ident(ident) if ident == "where"))
            .unwrap_or(before_body - cursor.pos);
        Some(ReturnType {
            arrow,
            ty: cursor.take(len),
        })
    } else {
        None
    };

    let where_clause = if cursor.is_ident(0, "where") {
        Some(cursor.take(before_body - cursor.pos))
    } else {
        None
    };
    if cursor.pos != before_body {
        return Err(not_a_function(cursor.span()));
    }

    Ok(ItemFn {
        attrs,
        vis,
        qualifiers,
        fn_token,
        ident,
        generics,
        inputs,
        output,
        where_clause,
        body,
        signature: tokens[..before_body].iter().cloned().collect(),
    })
}

struct Cursor<'a> {
    tokens: &'a [TokenTree],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self, ahead: usize) -> Option<&TokenTree> {
        self.tokens.get(self.pos + ahead)
    }

    fn span(&self) -> Span {
        self.peek(0)
            .or(self.tokens.last())
            .map_or_else(Span::call_site, TokenTree::span)
    }

    fn take(&mut self, len: usize) -> TokenStream {
        let end = (self.pos + len).min(self.tokens.len());
        let taken = self.tokens[self.pos..end].iter().cloned().collect();
        self.pos = end;
        taken
    }

    fn is_punct(&self, ahead: usize, ch: char) -> bool {
        matches!(self.peek(ahead), Some(TokenTree::Punct(punct)) if punct.as_char() == ch)
    }

    fn is_ident(&self, ahead: usize, name: &str) -> bool {
        matches!(self.peek(ahead), Some(TokenTree::Ident(ident)) if ident == name)
    }

    fn is_group(&self, ahead: usize, delimiter: Delimiter) -> bool {
        matches!(self.peek(ahead), Some(TokenTree::Group(group)) if group.delimiter() == delimiter)
    }

    /// The length of `<…>` starting here, nested angles and `->` inside it
    /// (as in `F: Fn() -> T`) included.
    fn angle_bracketed_len(&self) -> usize {
        let mut depth = 0usize;
        let rest = &self.tokens[self.pos..];
        for (i, token) in rest.iter().enumerate() {
            let TokenTree::Punct(punct) = token else {
                continue;
            };
            match punct.as_char() {
                '<' => depth += 1,
                '>' => {
                    let arrow = matches!(
                        i.checked_sub(1).map(|prev| &rest[prev]),
                        Some(TokenTree::Punct(prev))
                            if prev.as_char() == '-' && prev.spacing() == Spacing::Joint
                    );
                    if !arrow {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                }
                _ => {}
            }
        }
        rest.len()
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use quote::quote;

    fn strings(item: &super::ItemFn) -> [String; 7] {
        let show = |tokens: Option<&proc_macro2::TokenStream>| {
            tokens.map_or_else(|| "-".to_owned(), ToString::to_string)
        };
        [
            item.attrs.len().to_string(),
            item.vis.to_string(),
            item.qualifiers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            show(item.generics.as_ref()),
            item.inputs.to_string(),
            item.output
                .as_ref()
                .map_or_else(|| "-".to_owned(), |out| out.ty.to_string()),
            show(item.where_clause.as_ref()),
        ]
    }

    #[test]
    fn plain_main() {
        let item = parse(quote!(
            fn main() {
                body();
            }
        ))
        .unwrap();
        assert_eq!(item.ident, "main");
        assert_eq!(strings(&item), ["0", "", "", "-", "()", "-", "-"]);
        assert_eq!(item.body.stream().to_string(), "body () ;");
        assert_eq!(item.to_original().to_string(), "fn main () { body () ; }");
    }

    #[test]
    fn everything() {
        let item = parse(quote! {
            /// Docs.
            #[allow(unused)]
            pub(crate) async unsafe extern "C" fn main<'a, F: Fn() -> Vec<u8>, const N: usize>(x: u8)
                -> Result<(), Box<dyn Error>>
            where
                F: Copy,
            {}
        })
        .unwrap();
        assert_eq!(
            strings(&item),
            [
                "2",
                "pub (crate)",
                "async unsafe extern",
                "< 'a , F : Fn () -> Vec < u8 > , const N : usize >",
                "(x : u8)",
                "Result < () , Box < dyn Error >>",
                "where F : Copy ,",
            ]
        );
    }

    #[test]
    fn return_types() {
        let item = parse(quote!(
            fn main() -> impl std::process::Termination {}
        ))
        .unwrap();
        assert!(item.output.unwrap().has_impl());
        let item = parse(quote!(
            fn main() -> Box<(impl Sized,)> {}
        ))
        .unwrap();
        assert!(item.output.unwrap().has_impl());
        let item = parse(quote!(
            fn main() -> std::process::ExitCode {}
        ))
        .unwrap();
        assert!(!item.output.unwrap().has_impl());
        let item = parse(quote!(
            fn main() -> Foo<{ 1 + 2 }> {}
        ))
        .unwrap();
        assert_eq!(item.output.unwrap().ty.to_string(), "Foo < { 1 + 2 } >");
    }

    #[test]
    fn inner_attributes_move_out() {
        let mut item = parse(quote!(
            fn main() {
                #![allow(unused)]
                #![deny(warnings)]
                let x = 1;
            }
        ))
        .unwrap();
        let attrs: Vec<String> = item
            .take_inner_attrs()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(attrs, ["# ! [allow (unused)]", "# ! [deny (warnings)]"]);
        assert_eq!(item.body.stream().to_string(), "let x = 1 ;");
    }

    #[test]
    fn attributes_taken_out() {
        let mut item = parse(quote!(
            /// Docs.
            #[inline]
            #[tokio::main]
            #[allow(unused)]
            async fn main() {}
        ))
        .unwrap();
        let taken = item.take_attrs(|attr| attr.to_string().contains("tokio"));
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].to_string(), "# [tokio :: main]");
        assert_eq!(item.attrs.len(), 3);
        assert_eq!(
            item.to_original().to_string(),
            "# [doc = r\" Docs.\"] # [inline] # [allow (unused)] async fn main () { }"
        );
        assert!(item.take_attrs(|_| false).is_empty());
        assert_eq!(item.attrs.len(), 3);
    }

    #[test]
    fn not_functions() {
        for item in [
            quote!(
                struct Main;
            ),
            quote!(
                const MAIN: u8 = 1;
            ),
            quote!(
                pub static MAIN: u8 = 1;
            ),
            quote!(
                unsafe impl Send for Main {}
            ),
            quote!(
                mod main {}
            ),
            quote!(
                fn main();
            ),
        ] {
            let error = parse(item.clone()).err().unwrap();
            assert_eq!(
                error.to_string(),
                "`#[graceful_main]` can only be applied to `fn main`",
                "{item}"
            );
        }
    }
}
