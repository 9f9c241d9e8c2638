//! The expansion as `cargo expand` would show it, pinned by snapshots.

use proc_macro2::TokenStream;
use quote::quote;

use super::expand;

fn render(args: TokenStream, item: TokenStream) -> String {
    let output = expand(args, item);
    let file = syn::parse2::<syn::File>(output.clone())
        .unwrap_or_else(|error| panic!("{error}: {output}"));
    prettyplease::unparse(&file)
}

#[test]
fn unit_main() {
    insta::assert_snapshot!(render(
        quote!(),
        quote! {
            fn main() {
                println!("hello");
            }
        },
    ));
}

#[test]
fn result_main() {
    insta::assert_snapshot!(render(
        quote!(),
        quote! {
            fn main() -> Result<(), Box<dyn std::error::Error>> {
                let config = std::fs::read_to_string("app.toml")?;
                println!("{config}");
                Ok(())
            }
        },
    ));
}

#[test]
fn exit_code_main() {
    insta::assert_snapshot!(render(
        quote!(),
        quote! {
            fn main() -> std::process::ExitCode {
                std::process::ExitCode::from(3)
            }
        },
    ));
}

#[test]
fn impl_termination_main() {
    insta::assert_snapshot!(render(
        quote!(),
        quote! {
            fn main() -> impl std::process::Termination {
                std::process::ExitCode::SUCCESS
            }
        },
    ));
}

#[test]
fn all_options() {
    insta::assert_snapshot!(render(
        quote!(timeout = "5s", signals = "TERM,INT", exit = "code", quiet),
        quote! {
            fn main() -> Result<(), Box<dyn std::error::Error>> {
                Ok(())
            }
        },
    ));
}

#[test]
fn options_in_fixed_order() {
    insta::assert_snapshot!(render(
        quote!(
            quiet,
            exit = "zero",
            signals = "sigusr1, Hup",
            timeout = "1m30s"
        ),
        quote! {
            fn main() {}
        },
    ));
}

#[test]
fn attributes_and_visibility_kept() {
    insta::assert_snapshot!(render(
        quote!(timeout = "250ms"),
        quote! {
            /// Serves until told to stop.
            #[allow(unreachable_code)]
            #[cfg_attr(test, allow(dead_code))]
            pub fn main() {
                #![allow(unused_variables)]
                let x = 1;
            }
        },
    ));
}

#[test]
fn bad_option_keeps_the_expansion() {
    insta::assert_snapshot!(render(
        quote!(timeout = "5", quiet),
        quote! {
            fn main() {}
        },
    ));
}

#[test]
fn bad_signature_is_hidden() {
    insta::assert_snapshot!(render(
        quote!(),
        quote! {
            pub async fn main() {
                work().await;
            }
        },
    ));
}

#[test]
fn other_function_is_left_alone() {
    insta::assert_snapshot!(render(
        quote!(quiet),
        quote! {
            fn start() -> u8 { 1 }
        },
    ));
}

#[test]
fn not_a_function_is_left_alone() {
    insta::assert_snapshot!(render(
        quote!(),
        quote! {
            struct Main;
        },
    ));
}
