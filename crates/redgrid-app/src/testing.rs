//! Test support (feature `testing`) shared by the test suites of redgrid-app, redgrid-web and the binary,
//! and by the benchmarks: throwaway databases on
//! both backends and a small seeded district.

use crate::Service;
use redgrid_core::area::{Area, Level};
use redgrid_core::catalogue::{CategoryItem, Tier};
use redgrid_core::command::Settings;
use redgrid_core::ids::*;
use redgrid_core::person::{Actor, Grant, Person, Role, Scope};
use redgrid_core::unit::{Unit, UnitKind};
use redgrid_store::prelude::*;
use redgrid_store::{
    Change, ItemFields, NewArea, NewClass, NewPerson, NewUnit, Result, Store, StoreError,
};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("t{}_{}_{}", std::process::id(), n, nanos)
}

/// The chain key every test database is opened with, so that tests run the keyed chain as a
/// server does.
pub fn keyring() -> redgrid_store::audit::Keyring {
    redgrid_store::audit::Keyring::default().with_key(vec![0x5a; 32], 1)
}

/// A throwaway database; removed (file or schema) when dropped, best effort.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Schema { url: String, schema: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { url, schema } => {
                let url = url.clone();
                let schema = schema.clone();
                // Drop the schema on a fresh runtime in its own thread: Drop cannot await.
                let _ = std::thread::spawn(move || {
                    if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        let _ = rt
                            .block_on(redgrid_store::postgres::PgStore::drop_schema(&url, &schema));
                    }
                })
                .join();
            }
        }
    }
}

impl TestDb {
    /// The SQLite database file (`None` on PostgreSQL).
    pub fn file(&self) -> Option<PathBuf> {
        match &self.cleanup {
            Cleanup::File(dir) => Some(dir.join("redgrid.db")),
            Cleanup::Schema { .. } => None,
        }
    }

    /// The PostgreSQL URL and schema of a database made by [`postgres`] (None for SQLite), for tests
    /// that act on the database from a connection of their own.
    pub fn pg_schema(&self) -> Option<(&str, &str)> {
        match &self.cleanup {
            Cleanup::File(_) => None,
            Cleanup::Schema { url, schema } => Some((url, schema)),
        }
    }

    /// A second, independent store on the same database (its own pool and, on SQLite, its own writer
    /// task): what a second server process would have.
    pub async fn reopen(&self) -> Result<Arc<dyn Store>> {
        let store: Arc<dyn Store> = match &self.cleanup {
            Cleanup::File(dir) => {
                Arc::new(redgrid_store::sqlite::SqliteStore::open(&dir.join("redgrid.db")).await?)
            }
            Cleanup::Schema { url, schema } => {
                Arc::new(redgrid_store::postgres::PgStore::connect_schema(url, schema).await?)
            }
        };
        store.set_keyring(keyring());
        Ok(store)
    }
}

/// A fresh SQLite database in a temporary folder, migrated.
pub async fn sqlite() -> Result<TestDb> {
    let dir = std::env::temp_dir().join(format!("redgrid-test-{}", unique_name()));
    let store = redgrid_store::sqlite::SqliteStore::open(&dir.join("redgrid.db")).await?;
    store.migrate().await?;
    store.set_keyring(keyring());
    Ok(TestDb {
        store: Arc::new(store),
        cleanup: Cleanup::File(dir),
    })
}

/// The PostgreSQL URL for tests: `REDGRID_TEST_PG_URL`, or the local server's `redgrid_test` database.
pub fn postgres_url() -> String {
    std::env::var("REDGRID_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/redgrid_test".to_string())
}

/// A fresh schema in the test PostgreSQL database, migrated; the database itself is created when the
/// server answers but lacks it. `Ok(None)` when PostgreSQL cannot be reached outside CI (the reason is printed straight to stderr, uncaptured); under CI (`CI` set)
/// an unreachable PostgreSQL is an error.
pub async fn postgres() -> Result<Option<TestDb>> {
    postgres_at(&postgres_url()).await
}

/// Like [`postgres`], at a given URL.
pub async fn postgres_at(url: &str) -> Result<Option<TestDb>> {
    let url = url.to_string();
    let schema = unique_name();
    let mut connected = redgrid_store::postgres::PgStore::connect_schema(&url, &schema).await;
    // A server that answers but lacks the test database: make it, and say so.
    if let Err(StoreError::Db(message)) = &connected
        && message.contains("database")
        && message.contains("does not exist")
    {
        if redgrid_store::postgres::PgStore::create_database(&url).await? {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\nNOTE: the PostgreSQL test database did not exist; created it at {url}\n"
                );
            });
        }
        connected = redgrid_store::postgres::PgStore::connect_schema(&url, &schema).await;
    }
    match connected {
        Ok(store) => {
            store.migrate().await?;
            store.set_keyring(keyring());
            Ok(Some(TestDb {
                store: Arc::new(store),
                cleanup: Cleanup::Schema { url, schema },
            }))
        }
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                return Err(StoreError::Corrupt(format!(
                    "PostgreSQL is required under CI but {url} is unreachable: {e}"
                )));
            }
            skip_notice(&format!("PostgreSQL at {url} is unreachable ({e})"));
            Ok(None)
        }
    }
}

/// Prints why PostgreSQL tests are skipped, once per process, past the test harness's capture.
pub fn skip_notice(reason: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED: PostgreSQL tests: {reason}. Set REDGRID_TEST_PG_URL or run .ci/run to include them.\n"
        );
    });
}

/// A small district: two streets, two communities, three grids, their units, a catalogue and one
/// person for each role.
pub struct Fixture {
    pub district: Area,
    pub street_a: Area,
    pub street_b: Area,
    pub comm_a1: Area,
    pub comm_b1: Area,
    pub grid_a1_1: Area,
    pub grid_a1_2: Area,
    pub grid_b1_1: Area,
    pub unit_grid_a1_1: Unit,
    pub unit_comm_a1: Unit,
    pub unit_comm_b1: Unit,
    pub unit_street_a: Unit,
    pub unit_dept: Unit,
    pub unit_district: Unit,
    pub cat_garbage: CategoryItem,
    pub cat_road: CategoryItem,
    pub resident: Person,
    pub other_resident: Person,
    pub grid_worker: Person,
    pub community_staff: Person,
    pub community_staff_b: Person,
    pub street_staff: Person,
    pub dept_staff: Person,
    pub volunteer: Person,
    pub verifier: Person,
    pub supervisor: Person,
    pub admin: Person,
    /// The personal-data auditor: reads the access log, nothing else.
    pub auditor: Person,
}

impl Fixture {
    pub fn actor(p: &Person) -> Actor {
        Actor::Person(p.clone())
    }

    /// An accept into the garbage category that changes nothing else: what most tests send.
    pub fn accept_garbage(&self) -> redgrid_core::command::Command {
        redgrid_core::command::Command::Accept {
            public_summary: None,
            category_id: Some(self.cat_garbage.id),
            tier: None,
            urgent: None,
            level: None,
        }
    }
}

/// Seeds the fixture district through the service (so every admin check runs).
pub async fn seed(store: Arc<dyn Store>) -> Result<(Service, Fixture)> {
    let service = Service::new(store.clone(), Settings::default()).await?;
    let sys = Actor::System;
    let area = |parent: Option<AreaId>, kind, code: &str, name: &str| NewArea {
        parent_id: parent,
        kind,
        code: code.into(),
        name: name.into(),
    };
    let district = service
        .create_area(&sys, area(None, Level::District, "120116", "滨海新区"))
        .await?;
    let street_a = service
        .create_area(
            &sys,
            area(Some(district.id), Level::Street, "120116001", "塘沽街道"),
        )
        .await?;
    let street_b = service
        .create_area(
            &sys,
            area(Some(district.id), Level::Street, "120116002", "新港街道"),
        )
        .await?;
    let comm_a1 = service
        .create_area(
            &sys,
            area(
                Some(street_a.id),
                Level::Community,
                "120116001001",
                "幸福里社区",
            ),
        )
        .await?;
    let comm_b1 = service
        .create_area(
            &sys,
            area(
                Some(street_b.id),
                Level::Community,
                "120116002001",
                "港湾社区",
            ),
        )
        .await?;
    let grid_a1_1 = service
        .create_area(
            &sys,
            area(
                Some(comm_a1.id),
                Level::Grid,
                "12011600100101",
                "幸福里第一网格",
            ),
        )
        .await?;
    let grid_a1_2 = service
        .create_area(
            &sys,
            area(
                Some(comm_a1.id),
                Level::Grid,
                "12011600100102",
                "幸福里第二网格",
            ),
        )
        .await?;
    let grid_b1_1 = service
        .create_area(
            &sys,
            area(
                Some(comm_b1.id),
                Level::Grid,
                "12011600200101",
                "港湾第一网格",
            ),
        )
        .await?;
    let unit = |name: &str, kind, area_id, level| NewUnit {
        name: name.into(),
        kind,
        area_id,
        level,
        parent_id: None,
        code: None,
    };
    let unit_grid_a1_1 = service
        .create_unit(
            &sys,
            unit(
                "幸福里第一网格党小组",
                UnitKind::GridTeam,
                grid_a1_1.id,
                Level::Grid,
            ),
        )
        .await?;
    let unit_comm_a1 = service
        .create_unit(
            &sys,
            unit(
                "幸福里社区居委会",
                UnitKind::CommunityOffice,
                comm_a1.id,
                Level::Community,
            ),
        )
        .await?;
    let unit_comm_b1 = service
        .create_unit(
            &sys,
            unit(
                "港湾社区居委会",
                UnitKind::CommunityOffice,
                comm_b1.id,
                Level::Community,
            ),
        )
        .await?;
    let unit_street_a = service
        .create_unit(
            &sys,
            unit(
                "塘沽街道办事处",
                UnitKind::StreetOffice,
                street_a.id,
                Level::Street,
            ),
        )
        .await?;
    let unit_dept = service
        .create_unit(
            &sys,
            unit(
                "区住房和建设委员会",
                UnitKind::Department,
                district.id,
                Level::Street,
            ),
        )
        .await?;
    let unit_district = service
        .create_unit(
            &sys,
            unit(
                "区社会治理中心",
                UnitKind::DistrictOffice,
                district.id,
                Level::District,
            ),
        )
        .await?;
    let class = service
        .create_class(
            &sys,
            NewClass {
                code: "env".into(),
                name_zh: "市容环境".into(),
                name_en: "Environment".into(),
                sort: 1,
            },
        )
        .await?;
    let item = |code: &str, zh: &str, en: &str, tier: Tier| ItemFields {
        class_id: class.id,
        code: code.into(),
        name_zh: zh.into(),
        name_en: en.into(),
        default_tier: tier,
        default_level: tier.default_level(),
        respond_limit: None,
        resolve_limit: None,
        active: true,
        sort: 1,
    };
    let cat_garbage = service
        .create_item(
            &sys,
            item("env.garbage", "垃圾清运", "Garbage collection", Tier::Micro),
        )
        .await?;
    let cat_road = service
        .create_item(
            &sys,
            item("env.road", "道路破损", "Damaged road", Tier::Medium),
        )
        .await?;
    let person = |name: &str, phone: &str, grants: Vec<Grant>| NewPerson {
        name: name.into(),
        phone: Some(phone.into()),
        grants,
    };
    let g = |role, scope| Grant { role, scope };
    let resident = store
        .create_person(
            person(
                "张三",
                "13800000001",
                vec![g(Role::Resident, Scope::Area(district.id))],
            ),
            Change::system(),
        )
        .await?;
    let other_resident = store
        .create_person(
            person(
                "李四",
                "13800000002",
                vec![g(Role::Resident, Scope::Area(district.id))],
            ),
            Change::system(),
        )
        .await?;
    let grid_worker = store
        .create_person(
            person(
                "王网格",
                "13800000003",
                vec![g(Role::GridWorker, Scope::Unit(unit_grid_a1_1.id))],
            ),
            Change::system(),
        )
        .await?;
    let community_staff = store
        .create_person(
            person(
                "赵社区",
                "13800000004",
                vec![g(Role::CommunityStaff, Scope::Unit(unit_comm_a1.id))],
            ),
            Change::system(),
        )
        .await?;
    let community_staff_b = store
        .create_person(
            person(
                "钱社区",
                "13800000005",
                vec![g(Role::CommunityStaff, Scope::Unit(unit_comm_b1.id))],
            ),
            Change::system(),
        )
        .await?;
    let street_staff = store
        .create_person(
            person(
                "孙街道",
                "13800000006",
                vec![g(Role::StreetStaff, Scope::Unit(unit_street_a.id))],
            ),
            Change::system(),
        )
        .await?;
    let dept_staff = store
        .create_person(
            person(
                "周住建",
                "13800000007",
                vec![g(Role::DepartmentStaff, Scope::Unit(unit_dept.id))],
            ),
            Change::system(),
        )
        .await?;
    let volunteer = store
        .create_person(
            person(
                "吴志愿",
                "13800000008",
                vec![g(Role::Volunteer, Scope::Unit(unit_grid_a1_1.id))],
            ),
            Change::system(),
        )
        .await?;
    let verifier = store
        .create_person(
            person(
                "郑验单",
                "13800000009",
                vec![g(Role::Verifier, Scope::Area(comm_a1.id))],
            ),
            Change::system(),
        )
        .await?;
    let supervisor = store
        .create_person(
            person(
                "冯督办",
                "13800000010",
                vec![g(Role::Supervisor, Scope::Area(district.id))],
            ),
            Change::system(),
        )
        .await?;
    let admin = store
        .create_person(
            person(
                "陈管理",
                "13800000011",
                vec![g(Role::DistrictAdmin, Scope::Area(district.id))],
            ),
            Change::system(),
        )
        .await?;
    let auditor = store
        .create_person(
            person(
                "褚审计",
                "13800000012",
                vec![g(Role::Auditor, Scope::Area(district.id))],
            ),
            Change::system(),
        )
        .await?;
    Ok((
        service,
        Fixture {
            district,
            street_a,
            street_b,
            comm_a1,
            comm_b1,
            grid_a1_1,
            grid_a1_2,
            grid_b1_1,
            unit_grid_a1_1,
            unit_comm_a1,
            unit_comm_b1,
            unit_street_a,
            unit_dept,
            unit_district,
            cat_garbage,
            cat_road,
            resident,
            other_resident,
            grid_worker,
            community_staff,
            community_staff_b,
            street_staff,
            dept_staff,
            volunteer,
            verifier,
            supervisor,
            admin,
            auditor,
        },
    ))
}

/// Declares each named `async fn(Arc<dyn Store>)` as two tests: one on a fresh SQLite database and
/// one on a fresh PostgreSQL schema (skipped with a printed reason when no PostgreSQL is reachable
/// outside CI). The storage suites use it so that every test runs unchanged on both backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::testing::sqlite().await.expect("sqlite test database");
                    super::$name(db.store.clone()).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = $crate::testing::postgres().await.expect("postgres test database") else {
                        return;
                    };
                    super::$name(db.store.clone()).await;
                }
            )*
        }
    };
}

/// An ordinary API token for `person`, with every role they hold, made by the system: how test
/// suites and benchmarks act as someone over HTTP.
pub async fn api_token(service: &Service, person: &Person) -> Result<String> {
    let (token, _) = service
        .create_api_token(
            &Actor::System,
            person.id,
            "test",
            &person.roles(),
            &[],
            None,
        )
        .await?;
    Ok(token)
}

/// The newest text message sent to `phone` by the service's log sender, waiting up to two seconds
/// for the sender's task to write it.
pub async fn sms_to(service: &Service, phone: &str) -> Option<String> {
    for _ in 0..200 {
        if let Some(text) = service.sms_log().last_to(phone) {
            return Some(text);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    None
}

/// The six-digit code in the newest text message to `phone` (empty when none came).
pub async fn sms_code(service: &Service, phone: &str) -> String {
    let text = sms_to(service, phone).await.unwrap_or_default();
    text.chars().filter(char::is_ascii_digit).take(6).collect()
}
