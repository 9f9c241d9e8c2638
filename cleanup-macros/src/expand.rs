//! The generated code, and what to emit instead when the input is wrong.

use proc_macro2::{Group, Ident, Literal, Span, TokenStream};
use quote::quote;

use crate::args::{self, Args, Flavor};
use crate::check::{self, Problem};
use crate::errors::Errors;
use crate::item::{self, ItemFn, ReturnType};
use crate::lints;

/// `#[graceful_main(args)] item` → the rewritten `main`.
///
/// On a mistake the output is still a function (so the IDE keeps working on
/// the body) plus one `compile_error!` per mistake, and nothing that makes
/// rustc add errors of its own.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = args::parse(args.clone()).unwrap_or_else(|error| {
        errors.push(error);
        Args {
            krate: args::find_crate_path(args),
            ..Args::default()
        }
    });
    let mut output = match item::parse(item.clone()) {
        // Not a function: leave it be.
        Err(error) => {
            errors.push(error);
            item
        }
        Ok(mut function) => match check::check(&function) {
            Ok(()) => {
                if let Err(error) = check::tokio_main(&mut function) {
                    errors.push(error);
                }
                if let Err(error) = check::options(&args, &function) {
                    errors.push(error);
                }
                if let Err(error) = lints::dropped_at_once(&function, args.krate.as_ref()) {
                    errors.push(error);
                }
                graceful_main(&args, function)
            }
            // Some other function: leave it be.
            Err(Problem::NotMain(error)) => {
                errors.push(error);
                function.to_original()
            }
            Err(Problem::Signature(error)) => {
                if let Err(error) = check::tokio_main(&mut function) {
                    errors.push(error);
                }
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

/// The rewrite proper: the body becomes a closure, or for `async fn main` a
/// future, handed to the runtime.
fn graceful_main(args: &Args, mut function: ItemFn) -> TokenStream {
    let inner_attrs = function.take_inner_attrs();
    let is_async = function.is_async();
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
    let warning = lints::missing_feature(output.as_ref());
    let private = private(args);
    let config = config(args, &private);
    let run = if is_async {
        run_async(args, &private, config, output.as_ref(), &body)
    } else {
        run(&private, config, output.as_ref(), &body)
    };
    quote! {
        #(#attrs)*
        #vis #fn_token #ident #inputs #output {
            #(#inner_attrs)*
            #warning
            #run
        }
    }
}

/// `::cleanup::__private`, the runtime's entry points, or the same under the
/// path `crate = "…"` gives.
fn private(args: &Args) -> TokenStream {
    match &args.krate {
        Some(path) => quote!(#path::__private),
        None => quote!(::cleanup::__private),
    }
}

/// `fn main`: the body runs as a closure.
fn run(
    private: &TokenStream,
    config: TokenStream,
    output: Option<&ReturnType>,
    body: &Group,
) -> TokenStream {
    // The closure returns what `main` declares, so the body type-checks as it
    // would in `main` (`fn main() { 0 }` is "expected `()`" at the `0`, not a
    // `Termination` error) and `?` infers its error type. A closure cannot
    // name an `impl Trait` type: that one is inferred. The generated tokens
    // are spanned at the attribute, so an error about them points there.
    let closure = match output {
        None => quote!(move || -> () #body),
        Some(output) if output.has_impl() => quote!(move || #body),
        Some(output) => quote!(move || #output #body),
    };
    quote! {
        #private::run(
            #config,
            #closure,
        )
    }
}

/// `async fn main`: the body runs as an `async move` block on the runtime
/// `flavor` asks for.
fn run_async(
    args: &Args,
    private: &TokenStream,
    config: TokenStream,
    output: Option<&ReturnType>,
    body: &Group,
) -> TokenStream {
    // An `async` block's output type cannot be written on the block. The
    // typed `let` names it (`#[tokio::main]` does the same with `pin!`), so
    // the future is known to produce `main`'s return type; the block's own
    // return expressions still decide what it infers, so a body that returns
    // `Err(Box::new(e))` for `Box<dyn Error>` needs `.into()`, as with tokio.
    // The box costs one allocation, once. `impl Trait` cannot be named there
    // either: that one is inferred.
    let body = match output {
        Some(output) if output.has_impl() => quote! {
            let body = ::std::boxed::Box::pin(async move #body);
        },
        _ => {
            let ty = output.map_or_else(|| quote!(()), |output| output.ty.clone());
            quote! {
                let body: ::core::pin::Pin<
                    ::std::boxed::Box<dyn ::core::future::Future<Output = #ty>>,
                > = ::std::boxed::Box::pin(async move #body);
            }
        }
    };
    let flavor = flavor(args, private);
    quote! {
        #body
        #private::run_async(
            #config,
            #flavor,
            body,
        )
    }
}

/// `Config::new()` and a call per option given, in a fixed order.
fn config(args: &Args, private: &TokenStream) -> TokenStream {
    let mut config = quote!(#private::Config::new());
    if let Some(ms) = args.timeout_ms {
        let ms = Literal::u64_unsuffixed(ms);
        config.extend(quote!(.timeout_ms(#ms)));
    }
    if let Some(delay) = &args.drain_delay_ms {
        let ms = Literal::u64_unsuffixed(delay.value);
        config.extend(quote!(.drain_delay_ms(#ms)));
    }
    if let Some(signals) = &args.signals {
        // `private` is a token stream, which `#(…)*` would iterate: each
        // path is built whole.
        let signals = signals.iter().map(|signal| {
            let name = Ident::new(signal.const_name(), Span::call_site());
            quote!(#private::#name)
        });
        config.extend(quote!(.signals(&[#(#signals),*])));
    }
    if let Some(exit) = args.exit {
        let exit = Ident::new(exit.variant(), Span::call_site());
        config.extend(quote!(.exit(#private::Exit::#exit)));
    }
    if args.quiet {
        config.extend(quote!(.quiet()));
    }
    if args.guardian {
        config.extend(quote!(.guardian(#private::GUARDIAN)));
    }
    config
}

/// `Flavor::CurrentThread`, or `Flavor::MultiThread` with the number of
/// worker threads when given.
fn flavor(args: &Args, private: &TokenStream) -> TokenStream {
    match args.flavor.as_ref().map(|flavor| flavor.value) {
        Some(Flavor::CurrentThread) => quote!(#private::Flavor::CurrentThread),
        None | Some(Flavor::MultiThread) => {
            let threads = match &args.worker_threads {
                Some(threads) => {
                    let threads = Literal::usize_unsuffixed(threads.value);
                    quote!(::core::option::Option::Some(#threads))
                }
                None => quote!(::core::option::Option::None),
            };
            quote!(#private::Flavor::MultiThread { worker_threads: #threads })
        }
    }
}

/// A `main` whose signature Rust itself rejects (arguments, generics, a
/// `where` clause) or the attribute cannot run in this build (`async` without
/// the `tokio` feature). Emitting it as it is would add rustc's own error to
/// ours, so it is kept out of sight in a `const _` block, still type-checked,
/// and an empty `main` stands in for it.
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
