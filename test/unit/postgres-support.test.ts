/** @module The tests' throwaway PostgreSQL server: one shared start, a fresh empty database per caller. */
import { afterAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { freshPostgresDatabase, postgresServer } from "../support/postgres.ts";

const clients: SQL[] = [];
function connect(url: string): SQL {
  const client = new SQL(url, { max: 2 });
  clients.push(client);
  return client;
}
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

async function tablesIn(client: SQL): Promise<string[]> {
  const rows: { table_name: string }[] =
    await client`select table_name from information_schema.tables where table_schema = 'public' order by 1`;
  return rows.map((r) => r.table_name);
}

describe("test PostgreSQL server", () => {
  test("concurrent first calls share one server, which answers select version()", async () => {
    const [a, b] = await Promise.all([postgresServer(), postgresServer()]);
    expect(a).toBe(b);
    expect(a.port).toBeGreaterThan(0);
    const [row] = await connect(a.url("postgres"))`select version() as v`;
    expect(row.v).toStartWith("PostgreSQL ");
  });

  test("two fresh databases are distinct and empty; a table made in one is absent in the other", async () => {
    const [urlA, urlB] = await Promise.all([freshPostgresDatabase(), freshPostgresDatabase()]);
    expect(urlA).not.toBe(urlB);
    expect(urlA).toStartWith("postgres://heimdall@127.0.0.1:");
    const a = connect(urlA);
    const b = connect(urlB);
    const [[nameA], [nameB]] = await Promise.all([
      a`select current_database() as db`,
      b`select current_database() as db`,
    ]);
    expect(nameA.db).not.toBe(nameB.db);
    expect(await tablesIn(a)).toEqual([]);
    expect(await tablesIn(b)).toEqual([]);

    await a`create table widgets (id int primary key)`;
    await a`insert into widgets values (1)`;
    expect(await tablesIn(a)).toEqual(["widgets"]);
    expect(await tablesIn(b)).toEqual([]);
    await expect(b`select * from widgets`).rejects.toThrow(/widgets/);
  });
});
