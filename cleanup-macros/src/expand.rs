//! The generated code, and what to emit instead when the input is wrong.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use crate::args::{self, Args};
use crate::check::{self, Problem};
use crate::errors::Errors;
use crate::item::{self, ItemFn};

/// `#[graceful_main(args)] item` → the rewritten `main`.
///
/// On a mistake the output is still a function (so the IDE keeps working on
/// the body) plus one `compile_error!` per mistake, and nothing that makes
/// rustc add errors of its own.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = args::parse(args).unwrap_or_else(|error| {
        errors.push(error);
        Args::default()
    });
    let mut output = match item::parse(item.clone()) {
        // Not a function: leave it be.
        Err(error) => {
            errors.push(error);
            item
        }
        Ok(function) => match check::check(&function) {
            Ok(()) => graceful_main(&args, function),
            // Some other function: leave it be.
            Err(Problem::NotMain(error)) => {
                errors.push(error);
                function.to_original()
            }
            Err(Problem::Signature(error)) => {
                errors.push(error);
                hidden(&function)
            }
        },
    };
    if let Err(error) = errors.finish() {
        output.extend(error.into_compile_error());
    }
    output
}

/// The rewrite proper: the body becomes a closure handed to the runtime.
fn graceful_main(args: &Args, mut function: ItemFn) -> TokenStream {
    let inner_attrs = function.take_inner_attrs();
    let ItemFn {
        attrs,
        vis,
        fn_token,
        ident,
        inputs,
        output,
        body,
        ..
    } = function;
    // The closure returns what `main` declares, so the body type-checks as it
    // would in `main` (`fn main() { 0 }` is "expected `()`" at the `0`, not a
    // `Termination` error) and `?` infers its error type. A closure cannot
    // name an `impl Trait` type: that one is inferred. The generated tokens
    // are spanned at the attribute, so an error about them points there.
    let closure = match &output {
        None => quote!(move || -> () #body),
        Some(output) if output.has_impl() => quote!(move || #body),
        Some(output) => quote!(move || #output #body),
    };
    let config = config(args);
    quote! {
        #(#attrs)*
        #vis #fn_token #ident #inputs #output {
            #(#inner_attrs)*
            ::cleanup::__private::run(
                #config,
                #closure,
            )
        }
    }
}

/// `Config::new()` and a call per option given, in a fixed order.
fn config(args: &Args) -> TokenStream {
    let mut config = quote!(::cleanup::__private::Config::new());
    if let Some(ms) = args.timeout_ms {
        let ms = Literal::u64_unsuffixed(ms);
        config.extend(quote!(.timeout_ms(#ms)));
    }
    if let Some(signals) = &args.signals {
        let signals = signals
            .iter()
            .map(|signal| Ident::new(signal.const_name(), Span::call_site()));
        config.extend(quote!(.signals(&[#(::cleanup::__private::#signals),*])));
    }
    if let Some(exit) = args.exit {
        let exit = Ident::new(exit.variant(), Span::call_site());
        config.extend(quote!(.exit(::cleanup::__private::Exit::#exit)));
    }
    if args.quiet {
        config.extend(quote!(.quiet()));
    }
    config
}

/// A `main` whose signature Rust itself rejects (arguments, generics, a
/// `where` clause) or the attribute cannot run yet (`async`). Emitting it as
/// it is would add rustc's own error to ours, so it is kept out of sight in a
/// `const _` block, still type-checked, and an empty `main` stands in for it.
fn hidden(function: &ItemFn) -> TokenStream {
    let original = function.to_original();
    let vis = &function.vis;
    quote! {
        const _: () = {
            #[allow(dead_code)]
            #original
        };
        #vis fn main() {}
    }
}

#[cfg(test)]
mod tests;
