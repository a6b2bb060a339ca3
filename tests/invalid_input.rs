//! Every malformed fleet file, migrations directory or argument exits 2 with a message naming the
//! file and line, and touches nothing: no tenant file, no ledger.

mod common;

use common::*;

const GOOD_TENANT: &str =
    "[[tenants]]\nid = \"solo\"\nurl = \"sqlite://tenants/solo.db?mode=rwc\"\n";

fn good_migrations(s: &Scratch) {
    s.migration(
        1,
        "create_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
    );
}

/// Runs apply and checks the refusal: exit 2, every expected fragment in stderr, nothing created.
fn refused(s: &Scratch, args: &[&str], expected: &[&str]) {
    let before = files_under(s.dir.path());
    let output = s.run(args);
    let err = stderr(&output);
    assert_eq!(
        code(&output),
        2,
        "expected exit 2 for {args:?}, stderr:\n{err}"
    );
    for fragment in expected {
        assert!(err.contains(fragment), "stderr lacks {fragment:?}:\n{err}");
    }
    assert_eq!(
        files_under(s.dir.path()),
        before,
        "a refused command created or removed files"
    );
    assert!(
        stdout(&output).is_empty(),
        "stdout must stay empty on refusal"
    );
}

#[test]
fn fleet_file_errors_name_the_line_and_column() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[policy]\nconcurrency = 4\nconcurency = 8\n",
            &["fleet.toml:3:1", "concurency"],
        ),
        ("[policy\n", &["fleet.toml:1:"]),
        (
            "[[tenants]]\nid = \"a\"\nurl = \"sqlite://a.db\"\n[[tenants]]\nid = \"a\"\nurl = \"sqlite://b.db\"\n",
            &[
                "fleet.toml:5:6",
                "duplicate tenant id \"a\" (first declared at line 2)",
            ],
        ),
        (
            "[[servers]]\nname = \"pg\"\nurl = \"postgres://db/app\"\n[[tenants]]\nid = \"a\"\nurl = \"sqlite://a.db\"\nschema = \"s\"\n",
            &["fleet.toml:6:7", "both `url` and `server`/`schema`"],
        ),
        (
            "[[tenants]]\nid = \"a\"\nserver = \"nowhere\"\nschema = \"s\"\n",
            &["fleet.toml:3:10", "unknown server \"nowhere\""],
        ),
        (
            "[[tenants]]\nid = \"a\"\nurl = \"sqlite://a.db\"\n[[waves]]\nname = \"canary\"\ntags = [\"canary\"]\n",
            &[
                "fleet.toml:6:9",
                "selects tag \"canary\", which no tenant has",
            ],
        ),
        (
            "[[tenants]]\nid = \"a\"\nurl = \"sqlite://a.db\"\n[[waves]]\nname = \"w\"\ntenants = [\"ghost\"]\n",
            &["fleet.toml:6:12", "unknown tenant \"ghost\""],
        ),
        (
            "[[servers]]\nname = \"pg\"\nurl = \"postgres://u:${FLOTILLA_TEST_UNSET_VAR}@db/app\"\n",
            &["fleet.toml:3:7", "FLOTILLA_TEST_UNSET_VAR is not set"],
        ),
        (
            "[policy]\nlock_wait = \"soon\"\n",
            &["fleet.toml:2:13", "invalid duration"],
        ),
        (
            "[policy]\ntransaction = \"always\"\n",
            &["fleet.toml:2:15", "unknown transaction mode"],
        ),
        (
            "[policy]\ntenant_timeout = \"0s\"\n",
            &[
                "fleet.toml:2:18",
                "tenant_timeout must be greater than zero",
            ],
        ),
        (
            "[[tenants]]\nid = \"a\"\nurl = \"sqlite://a.db\"\n[[waves]]\nname = \"first\"\ngate = \"manual\"\n",
            &["fleet.toml:6:8", "is the first wave"],
        ),
        (
            "[[servers]]\nname = \"my\"\nurl = \"mysql://root@db/app\"\n[[tenants]]\nid = \"a\"\nserver = \"my\"\nschema = \"s\"\n",
            &[
                "fleet.toml:6:10",
                "is a MySQL server, and schema tenants live on PostgreSQL",
            ],
        ),
        (
            "[[servers]]\nname = \"pg\"\nurl = \"postgres://u:${FLOTILLA_TEST_UNSET_VAR}@db/app\"\n[[tenants]]\nid = \"a\"\nserver = \"pg\"\nschema = \"s\"\n",
            &["fleet.toml:3:7", "FLOTILLA_TEST_UNSET_VAR is not set"],
        ),
    ];
    for (fleet, expected) in cases {
        let s = Scratch::new();
        good_migrations(&s);
        s.fleet(fleet);
        refused(&s, &["apply"], expected);
        refused(&s, &["plan"], expected);
    }
}

#[test]
fn migration_directory_errors_name_the_files() {
    // (files to add to a good directory, fragments the error must contain)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            &[
                ("1_a.sql", "-- migrate:up\nSELECT 1;\n"),
                ("001_b.sql", "-- migrate:up\nSELECT 2;\n"),
            ],
            &["duplicate version 1", "001_b.sql", "1_a.sql"],
        ),
        (
            &[("create_things.sql", "-- migrate:up\nSELECT 1;\n")],
            &["create_things.sql", "file name does not parse"],
        ),
        (
            &[("2_b.sql", "CREATE TABLE b (id INTEGER);\n")],
            &["2_b.sql", "missing `-- migrate:up` section"],
        ),
        (
            &[("3_c.sql", "-- migrate:up\nSELECT 1;\n-- migrate:sideways\n")],
            &["3_c.sql:3", "unknown directive"],
        ),
        (
            &[("4_d.sql", "-- migrate:up transaction:maybe\nSELECT 1;\n")],
            &["4_d.sql:1", "unknown option `transaction:maybe`"],
        ),
        (
            &[("5_e.down.sql", "DROP TABLE e;\n")],
            &["5_e.down.sql", "without a matching 5_e.up.sql"],
        ),
        (
            &[("6_f.sql", "-- migrate:up\n\n-- migrate:down\nSELECT 1;\n")],
            &["6_f.sql:1", "the up section is empty"],
        ),
    ];
    for (files, expected) in cases {
        let s = Scratch::new();
        good_migrations(&s);
        for (name, text) in *files {
            s.write(&format!("migrations/{name}"), text);
        }
        s.fleet(GOOD_TENANT);
        refused(&s, &["apply"], expected);
    }
}

#[test]
fn a_missing_migrations_directory_or_fleet_file_is_invalid_input() {
    let s = Scratch::new();
    s.fleet(GOOD_TENANT);
    refused(
        &s,
        &["apply"],
        &["cannot read migrations directory", "migrations"],
    );
    let empty = Scratch::new();
    let output = empty.run(&["plan"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("flotilla init"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_arguments_are_invalid_input() {
    let s = Scratch::new();
    good_migrations(&s);
    s.fleet(GOOD_TENANT);
    refused(
        &s,
        &["apply", "--to", "99"],
        &["--to 99: no migration has this version"],
    );
    refused(
        &s,
        &["apply", "--tenant", "nobody"],
        &["--tenant \"nobody\": no such tenant"],
    );
    let partial = Scratch::new();
    good_migrations(&partial);
    partial.fleet(&format!(
        "{GOOD_TENANT}tags = [\"canary\"]\n[[tenants]]\nid = \"loose\"\nurl = \"sqlite://l.db\"\n[[waves]]\nname = \"canary\"\ntags = [\"canary\"]\n"
    ));
    refused(
        &partial,
        &["apply", "--tenant", "loose"],
        &["--tenant \"loose\": no wave selects this tenant"],
    );
    refused(
        &s,
        &["apply", "--wave", "canary"],
        &["--wave \"canary\": no such wave (the fleet's waves: all)"],
    );
    refused(
        &s,
        &["apply", "--resume", "20990101-000000-0000"],
        &["no run \"20990101-000000-0000\""],
    );
    let output = s.run(&["apply", "--format", "yaml"]);
    assert_eq!(code(&output), 2);
}
