using Microsoft.Data.Sqlite;

namespace ActorRelay.NodeProcess;

/// <summary>
/// Whether the embedded journal file can be read, checked before the node starts: Akka.Persistence.Sql retries a store it
/// cannot initialise every second, so a damaged file (not a database, truncated, overwritten) would keep the node
/// restoring, logging a stack trace a second and answering nothing, until the node process gives up on it. It is refused
/// in one line instead, the file left as it is.
/// </summary>
internal static class JournalFileCheck
{
    /// <summary>Throws a <see cref="UsageException"/> when <paramref name="journalFile"/> exists and SQLite cannot read its schema.</summary>
    public static void Readable(string journalFile)
    {
        if (!File.Exists(journalFile)) return; // a first start: the journal creates it
        try
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
                { DataSource = journalFile, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM sqlite_master";
            command.ExecuteScalar();
        }
        catch (SqliteException e)
        {
            throw new UsageException($"relay.persistence: the journal {journalFile} cannot be read ({e.Message.TrimEnd('.')}); move it away to start " +
                                     "without the channels it held, or put back a good copy");
        }
    }
}
