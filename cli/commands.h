// The `ranker` subcommands. Each takes the full argv (argv[1] is the command
// name), prints its own --help, and returns the process exit code:
// 0 success, 1 run-time failure, 2 bad usage or configuration.
#pragma once

namespace ranker::app {

int RunConfig(int argc, char** argv);    // show keys, defaults, effective config
int RunSimulate(int argc, char** argv);  // simulated events as NDJSON (or into Kafka)
int RunReplay(int argc, char** argv);    // train from NDJSON files
int RunConvert(int argc, char** argv);   // real data sets -> NDJSON events
int RunServe(int argc, char** argv);     // consume, learn, serve HTTP
int RunBroker(int argc, char** argv);    // standalone in-memory Kafka broker
int RunDemo(int argc, char** argv);      // broker + simulator + service in one process

}  // namespace ranker::app
