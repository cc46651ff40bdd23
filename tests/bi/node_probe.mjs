// Read every analytics view of a runyard DuckDB file with @duckdb/node-api 1.5.x, the engine
// Evidence runs its DuckDB sources on, and print what it saw as JSON. Usage: node node_probe.mjs DB_PATH
import duckdb, { DuckDBInstance } from '@duckdb/node-api';

const instance = await DuckDBInstance.create(process.argv[2], { access_mode: 'READ_ONLY' });
const connection = await instance.connect();
try {
  const listed = await connection.runAndReadAll(
    "select view_name from duckdb_views() where schema_name = 'analytics' and not internal order by view_name",
  );
  const views = {};
  for (const [name] of listed.getRows()) {
    // Evidence reads a source query's whole result, converting every value to JSON.
    const reader = await connection.runAndReadAll(`select * from analytics."${name}"`);
    views[name] = {
      rows: reader.getRowObjectsJson().length,
      columns: Object.fromEntries(reader.columnNames().map((c, i) => [c, reader.columnTypes()[i].toString()])),
    };
  }
  console.log(JSON.stringify({ version: duckdb.version(), views }));
} finally {
  connection.closeSync();
  instance.closeSync();
}
