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
fn guardian() {
    insta::assert_snapshot!(render(
        quote!(guardian),
        quote! {
            fn main() {}
        },
    ));
}

#[test]
fn guardian_with_other_options() {
    insta::assert_snapshot!(render(
        quote!(
            guardian,
            quiet,
            exit = "code",
            signals = "TERM",
            drain_delay = "1s",
            timeout = "5s"
        ),
        quote! {
            fn main() -> Result<(), Box<dyn std::error::Error>> {
                Ok(())
            }
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
fn renamed_crate() {
    insta::assert_snapshot!(render(
        quote!(
            crate = "my_cleanup",
            timeout = "5s",
            signals = "TERM,INT",
            exit = "code"
        ),
        quote! {
            fn main() {}
        },
    ));
}

// The path is kept, so the expansion that goes with the error resolves.
#[test]
fn renamed_crate_with_a_bad_option() {
    insta::assert_snapshot!(render(
        quote!(timeout = "5", crate = "::deps::my_cleanup"),
        quote! {
            fn main() {}
        },
    ));
}

#[test]
fn flavor_on_sync_main() {
    insta::assert_snapshot!(render(
        quote!(flavor = "current_thread"),
        quote! {
            fn main() {}
        },
    ));
}

// With the `tokio` feature this `main` is accepted: see `async_main` below.
#[cfg(not(feature = "tokio"))]
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

#[cfg(feature = "tokio")]
mod async_main {
    use quote::quote;

    use super::render;

    #[test]
    fn unit_main() {
        insta::assert_snapshot!(render(
            quote!(),
            quote! {
                async fn main() {
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
                async fn main() -> Result<(), Box<dyn std::error::Error>> {
                    let config = read("app.toml").await?;
                    println!("{config}");
                    Ok(())
                }
            },
        ));
    }

    #[test]
    fn impl_termination_main() {
        insta::assert_snapshot!(render(
            quote!(),
            quote! {
                async fn main() -> impl std::process::Termination {
                    std::process::ExitCode::SUCCESS
                }
            },
        ));
    }

    #[test]
    fn current_thread() {
        insta::assert_snapshot!(render(
            quote!(flavor = "current_thread"),
            quote! {
                async fn main() {}
            },
        ));
    }

    #[test]
    fn worker_threads() {
        insta::assert_snapshot!(render(
            quote!(flavor = "multi_thread", worker_threads = 2),
            quote! {
                async fn main() {}
            },
        ));
    }

    #[test]
    fn with_options() {
        insta::assert_snapshot!(render(
            quote!(timeout = "5s", worker_threads = 2),
            quote! {
                async fn main() -> Result<(), Box<dyn std::error::Error>> {
                    Ok(())
                }
            },
        ));
    }

    #[test]
    fn all_options() {
        insta::assert_snapshot!(render(
            quote!(
                flavor = "current_thread",
                quiet,
                exit = "zero",
                signals = "TERM",
                timeout = "30s"
            ),
            quote! {
                async fn main() -> std::process::ExitCode {
                    std::process::ExitCode::SUCCESS
                }
            },
        ));
    }

    #[test]
    fn guardian() {
        insta::assert_snapshot!(render(
            quote!(guardian, flavor = "current_thread", timeout = "5s"),
            quote! {
                async fn main() {}
            },
        ));
    }

    #[test]
    fn attributes_and_visibility_kept() {
        insta::assert_snapshot!(render(
            quote!(),
            quote! {
                /// Serves until told to stop.
                #[allow(unreachable_code)]
                pub async fn main() {
                    #![allow(unused_variables)]
                    let x = 1;
                }
            },
        ));
    }

    #[test]
    fn bad_option_keeps_the_expansion() {
        insta::assert_snapshot!(render(
            quote!(flavor = "single_thread"),
            quote! {
                async fn main() {}
            },
        ));
    }

    #[test]
    fn worker_threads_with_current_thread() {
        insta::assert_snapshot!(render(
            quote!(flavor = "current_thread", worker_threads = 2),
            quote! {
                async fn main() {}
            },
        ));
    }

    #[test]
    fn renamed_crate() {
        insta::assert_snapshot!(render(
            quote!(
                crate = "::my_cleanup",
                flavor = "current_thread",
                signals = "TERM"
            ),
            quote! {
                async fn main() {}
            },
        ));
    }

    // Without tokio's attribute, which would add its own error.
    #[test]
    fn stacked_tokio_main() {
        insta::assert_snapshot!(render(
            quote!(),
            quote! {
                /// Serves.
                #[tokio::main(flavor = "current_thread")]
                async fn main() {}
            },
        ));
    }

    #[test]
    fn bad_signature_is_hidden() {
        insta::assert_snapshot!(render(
            quote!(),
            quote! {
                pub async fn main(args: Vec<String>) {
                    work(args).await;
                }
            },
        ));
    }
}
