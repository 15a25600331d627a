//! The configuration file: a TOML table whose keys are the flags' long
//! names (`listen`, `database-url`, `tls-cert`...). Its settings go in
//! front of the command line as flags, except those the command line or
//! an environment variable already sets, so a flag wins over its variable
//! and the variable over the file. Unknown keys are refused by name, so a
//! misspelt setting is not silently ignored.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{ArgAction, CommandFactory, Parser};

use super::Cli;

/// The long name of the flag that names the file.
const CONFIG_FLAG: &str = "config";
/// Its environment variable.
const CONFIG_VARIABLE: &str = "MEDIATION_CONFIG";

/// Parses this process's command line with its configuration file, or
/// prints the usage error and exits (as clap does).
pub fn parse_command_line() -> Cli {
    parse_from(std::env::args_os().collect(), |name| std::env::var_os(name)).unwrap_or_else(|error| error.exit())
}

/// Parses `args` (the program's name first) with the configuration file
/// they name; `variable` reads the environment.
pub fn parse_from(args: Vec<OsString>, variable: impl Fn(&str) -> Option<OsString>) -> Result<Cli, clap::Error> {
    let Some(path) = config_path(&args).or_else(|| variable(CONFIG_VARIABLE).map(PathBuf::from)) else {
        return Cli::try_parse_from(args);
    };
    let text = std::fs::read_to_string(&path).map_err(|error| {
        clap::Error::raw(ErrorKind::Io, format!("the configuration file {} cannot be read: {error}\n", path.display()))
    })?;
    let settings: toml::Table = text.parse().map_err(|error: toml::de::Error| {
        clap::Error::raw(
            ErrorKind::InvalidValue,
            format!("the configuration file {} is not valid TOML: {error}", path.display()),
        )
    })?;
    let from_file = flags_from_settings(&settings, &args, &variable).map_err(|message| {
        clap::Error::raw(ErrorKind::InvalidValue, format!("in the configuration file {}: {message}\n", path.display()))
    })?;
    let mut combined = Vec::with_capacity(args.len() + from_file.len());
    combined.extend(args.first().cloned());
    combined.extend(from_file);
    combined.extend(args.iter().skip(1).cloned());
    Cli::try_parse_from(combined).map_err(|error| match Cli::try_parse_from(&args) {
        // The command line alone parses: the file's value was the bad one.
        Ok(_) => {
            let reason = error.to_string();
            let reason = reason.lines().next().unwrap_or_default().trim_start_matches("error: ");
            clap::Error::raw(error.kind(), format!("in the configuration file {}: {reason}\n", path.display()))
        }
        Err(_) => error,
    })
}

/// The file named by `--config <file>` or `--config=<file>`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let flag = format!("--{CONFIG_FLAG}");
    let mut args = args.iter().skip(1).map(|arg| arg.to_string_lossy());
    while let Some(arg) = args.next() {
        if arg == "--" {
            return None;
        }
        if arg == flag {
            return args.next().map(|path| PathBuf::from(path.as_ref()));
        }
        if let Some(path) = arg.strip_prefix(&format!("{flag}=")) {
            return Some(PathBuf::from(path));
        }
    }
    None
}

/// The flags the file's settings stand for, leaving out those the command
/// line or the environment sets.
fn flags_from_settings(
    settings: &toml::Table,
    args: &[OsString],
    variable: &impl Fn(&str) -> Option<OsString>,
) -> Result<Vec<OsString>, String> {
    let command = Cli::command();
    let mut flags = Vec::new();
    for (key, value) in settings {
        let arg =
            command.get_arguments().find(|arg| arg.get_long() == Some(key.as_str()) && key != CONFIG_FLAG).ok_or_else(
                || format!("unknown setting `{key}` (the settings are named as the flags: {})", setting_names()),
            )?;
        let on_command_line = args.iter().skip(1).any(|given| {
            let given = given.to_string_lossy();
            given == format!("--{key}") || given.starts_with(&format!("--{key}="))
        });
        let in_environment = arg.get_env().is_some_and(|name| variable(&name.to_string_lossy()).is_some());
        if on_command_line || in_environment {
            continue;
        }
        let switch = matches!(arg.get_action(), ArgAction::SetTrue);
        match value {
            toml::Value::Boolean(true) if switch => flags.push(format!("--{key}").into()),
            toml::Value::Boolean(false) if switch => {}
            _ if switch => return Err(format!("`{key}` is true or false")),
            toml::Value::String(text) => flags.push(format!("--{key}={text}").into()),
            toml::Value::Integer(number) => flags.push(format!("--{key}={number}").into()),
            toml::Value::Float(number) => flags.push(format!("--{key}={number}").into()),
            toml::Value::Array(items) if arg.get_value_delimiter().is_some() => {
                let items = items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| format!("`{key}` is a list of text")))
                    .collect::<Result<Vec<_>, _>>()?;
                flags.push(format!("--{key}={}", items.join(",")).into());
            }
            _ => return Err(format!("`{key}` takes one value, written as text or a number")),
        }
    }
    Ok(flags)
}

/// The names a file may use, for the error on an unknown one.
fn setting_names() -> String {
    let command = Cli::command();
    let names: Vec<&str> = command
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .filter(|name| *name != CONFIG_FLAG && *name != "help")
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(file: &str, args: &[&str], variables: &[(&str, &str)]) -> Result<Cli, clap::Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mediation.toml");
        std::fs::write(&path, file).unwrap();
        let mut argv: Vec<OsString> = vec!["mediation-server".into(), format!("--config={}", path.display()).into()];
        argv.extend(args.iter().map(OsString::from));
        let variables: Vec<(String, String)> = variables.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        parse_from(argv, |name| variables.iter().find(|(key, _)| key == name).map(|(_, value)| value.into()))
    }

    #[test]
    fn the_file_sets_what_the_command_line_leaves_out() {
        let cli = parse("listen = \"0.0.0.0:9443\"\nroom-size-limit = 9\ndemo = true\nstun-urls = [\"stun:a:3478\", \"stun:b:3478\"]\n", &[], &[])
            .unwrap();
        assert_eq!(cli.config.listen.to_string(), "0.0.0.0:9443");
        assert_eq!(cli.config.room_size_limit, 9);
        assert!(cli.config.demo);
        assert_eq!(cli.config.stun_urls, ["stun:a:3478", "stun:b:3478"]);
    }

    #[test]
    fn a_flag_wins_over_the_file() {
        let cli = parse("listen = \"0.0.0.0:9443\"\n", &["--listen", "127.0.0.1:7000"], &[]).unwrap();
        assert_eq!(cli.config.listen.to_string(), "127.0.0.1:7000");
        let cli = parse("listen = \"0.0.0.0:9443\"\n", &["--listen=127.0.0.1:7001"], &[]).unwrap();
        assert_eq!(cli.config.listen.to_string(), "127.0.0.1:7001");
    }

    #[test]
    fn an_environment_variable_wins_over_the_file() {
        // Only the decision is tested here: clap itself reads the process's
        // environment, which a test must not change.
        let settings: toml::Table = "listen = \"0.0.0.0:9443\"\nroom-size-limit = 9\n".parse().unwrap();
        let flags = flags_from_settings(&settings, &["mediation-server".into()], &|name: &str| {
            (name == "MEDIATION_LISTEN").then(|| OsString::from("127.0.0.1:1"))
        })
        .unwrap();
        assert_eq!(flags, [OsString::from("--room-size-limit=9")]);
    }

    #[test]
    fn an_unknown_or_misshapen_setting_is_refused_by_name() {
        let error = parse("lisen = \"0.0.0.0:9443\"\n", &[], &[]).unwrap_err().to_string();
        assert!(error.contains("unknown setting `lisen`"), "{error}");
        assert!(error.contains("listen, database-url"), "{error}");
        let error = parse("listen = \"nowhere\"\n", &[], &[]).unwrap_err().to_string();
        assert!(error.contains("in the configuration file") && error.contains("--listen"), "{error}");
        let error = parse("demo = \"yes\"\n", &[], &[]).unwrap_err().to_string();
        assert!(error.contains("`demo` is true or false"), "{error}");
        let error = parse("listen = [\"a\"]\n", &[], &[]).unwrap_err().to_string();
        assert!(error.contains("`listen` takes one value"), "{error}");
        let error = parse("listen = \n", &[], &[]).unwrap_err().to_string();
        assert!(error.contains("not valid TOML"), "{error}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let argv = vec!["mediation-server".into(), "--config".into(), "/nonexistent/mediation.toml".into()];
        let error = parse_from(argv, |_| None).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/mediation.toml cannot be read"), "{error}");
    }

    #[test]
    fn the_annotated_example_in_deploy_is_a_valid_configuration() {
        let cli = parse(include_str!("../../../deploy/mediation.toml"), &[], &[]).unwrap();
        assert_eq!(cli.config.listen.to_string(), "0.0.0.0:443");
        assert!(cli.config.serves_tls());
        assert_eq!(cli.config.rtc_udp_ports, Some(50000..=50999));
    }

    #[test]
    fn the_file_reaches_a_subcommand_run() {
        let cli = parse("data-dir = \"/var/lib/mediation\"\n", &["audit", "verify"], &[]).unwrap();
        assert_eq!(cli.config.data_dir, PathBuf::from("/var/lib/mediation"));
        assert!(cli.command.is_some());
    }
}
