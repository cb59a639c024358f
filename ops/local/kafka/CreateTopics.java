// Readiness check + idempotent topic creation for the local Kafka, in ONE JVM start.
//
// Run by ops/local/stack.sh (compiled once into .local/kafka/classes; falls back to
// Java 11+ single-file source launch `java -cp 'libs/*' CreateTopics.java ...`).
//
// Usage:
//   CreateTopics --bootstrap HOST:PORT [--wait SECONDS] [--check-only]
//                [--partitions N] [--replication-factor N]
//                NAME=RETENTION_MS ...
//
//   --wait SECONDS       keep retrying until the cluster answers a metadata request
//                        (describeCluster + listTopics), default 30
//   --check-only         only the readiness check: print cluster id and broker count
//   NAME=RETENTION_MS    topic to ensure; retention.ms is set on creation and, if the
//                        topic already exists with another value, updated in place
//
// Exit codes: 0 ok, 2 cluster not reachable within --wait, 1 any other error.
// Existing topics are never deleted, and their partition count is never changed
// (increasing it would re-map keys to partitions): a mismatch is only reported.

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;

public class CreateTopics {

    public static void main(String[] args) throws Exception {
        String bootstrap = null;
        long waitSeconds = 30;
        boolean checkOnly = false;
        int partitions = 3;
        short replication = 1;
        Map<String, String> wanted = new LinkedHashMap<>();

        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--bootstrap": bootstrap = args[++i]; break;
                case "--wait": waitSeconds = Long.parseLong(args[++i]); break;
                case "--check-only": checkOnly = true; break;
                case "--partitions": partitions = Integer.parseInt(args[++i]); break;
                case "--replication-factor": replication = Short.parseShort(args[++i]); break;
                default:
                    int eq = a.indexOf('=');
                    if (a.startsWith("--") || eq <= 0) {
                        System.err.println("CreateTopics: bad argument: " + a);
                        System.exit(1);
                    }
                    wanted.put(a.substring(0, eq), a.substring(eq + 1));
            }
        }
        if (bootstrap == null) {
            System.err.println("CreateTopics: --bootstrap is required");
            System.exit(1);
        }

        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "tansiq-stack-topics");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "100");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        props.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "100");

        try (Admin admin = Admin.create(props)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(waitSeconds);
            Set<String> existing = null;
            Exception last = null;
            String clusterId = null;
            int brokers = 0;
            while (true) {
                long remainingMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (remainingMs <= 0) break;
                long attemptMs = Math.max(200, Math.min(remainingMs, 5000));
                try {
                    DescribeClusterResult dc = admin.describeCluster();
                    clusterId = dc.clusterId().get(attemptMs, TimeUnit.MILLISECONDS);
                    brokers = dc.nodes().get(attemptMs, TimeUnit.MILLISECONDS).size();
                    existing = admin.listTopics().names().get(attemptMs, TimeUnit.MILLISECONDS);
                    if (brokers > 0) break;
                } catch (Exception e) {
                    last = e;
                }
                Thread.sleep(Math.min(250, Math.max(0, remainingMs)));
            }
            if (existing == null || brokers == 0) {
                System.err.println("CreateTopics: Kafka at " + bootstrap + " did not answer a metadata request within "
                        + waitSeconds + " s" + (last != null ? ": " + rootMessage(last) : ""));
                System.exit(2);
            }
            if (checkOnly) {
                System.out.println("kafka ready: cluster " + clusterId + ", " + brokers + " broker(s), "
                        + existing.size() + " topic(s)");
                return;
            }

            // 1. create the missing ones
            List<NewTopic> toCreate = new ArrayList<>();
            for (Map.Entry<String, String> t : wanted.entrySet()) {
                if (!existing.contains(t.getKey())) {
                    Map<String, String> cfg = new HashMap<>();
                    cfg.put("retention.ms", t.getValue());
                    toCreate.add(new NewTopic(t.getKey(), partitions, replication).configs(cfg));
                }
            }
            int failures = 0;
            if (!toCreate.isEmpty()) {
                Map<String, org.apache.kafka.common.KafkaFuture<Void>> res = admin.createTopics(toCreate).values();
                for (NewTopic t : toCreate) {
                    try {
                        res.get(t.name()).get(30, TimeUnit.SECONDS);
                        System.out.println("  created   " + t.name());
                    } catch (ExecutionException e) {
                        if (e.getCause() instanceof TopicExistsException) {
                            System.out.println("  exists    " + t.name());
                        } else {
                            System.err.println("  FAILED    " + t.name() + ": " + rootMessage(e));
                            failures++;
                        }
                    }
                }
            }

            // 1b. wait until the new partitions have a leader, so that clients started right after
            //     `stack.sh up` do not begin with LEADER_NOT_AVAILABLE retries
            List<String> created = new ArrayList<>();
            for (NewTopic t : toCreate) created.add(t.name());
            long leaderDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (!created.isEmpty() && System.nanoTime() < leaderDeadline) {
                try {
                    Map<String, TopicDescription> d = admin.describeTopics(created).allTopicNames()
                            .get(5, TimeUnit.SECONDS);
                    boolean allLed = d.values().stream()
                            .allMatch(td -> td.partitions().stream().allMatch(pi -> pi.leader() != null));
                    if (allLed) break;
                } catch (ExecutionException e) {
                    // metadata not propagated yet (UnknownTopicOrPartition): retry
                }
                Thread.sleep(100);
            }

            // 2. reconcile the already-existing ones (retention.ms; report partition mismatch)
            List<String> old = new ArrayList<>();
            for (String name : wanted.keySet()) if (existing.contains(name)) old.add(name);
            if (!old.isEmpty()) {
                Map<String, TopicDescription> desc = admin.describeTopics(old).allTopicNames().get(30, TimeUnit.SECONDS);
                List<ConfigResource> resources = new ArrayList<>();
                for (String name : old) resources.add(new ConfigResource(ConfigResource.Type.TOPIC, name));
                Map<ConfigResource, Config> configs = admin.describeConfigs(resources).all().get(30, TimeUnit.SECONDS);
                Map<ConfigResource, Collection<AlterConfigOp>> changes = new HashMap<>();
                for (String name : old) {
                    ConfigResource rsrc = new ConfigResource(ConfigResource.Type.TOPIC, name);
                    ConfigEntry cur = configs.get(rsrc).get("retention.ms");
                    String want = wanted.get(name);
                    int parts = desc.get(name).partitions().size();
                    String note = parts == partitions ? "" : "  (has " + parts + " partitions, wanted " + partitions
                            + ": left as is)";
                    if (cur == null || cur.source() != ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG
                            || !want.equals(cur.value())) {
                        changes.put(rsrc, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", want),
                                AlterConfigOp.OpType.SET)));
                        System.out.println("  updated   " + name + " retention.ms=" + want + note);
                    } else {
                        System.out.println("  ok        " + name + note);
                    }
                }
                if (!changes.isEmpty()) {
                    try {
                        admin.incrementalAlterConfigs(changes).all().get(30, TimeUnit.SECONDS);
                    } catch (ExecutionException e) {
                        System.err.println("  FAILED to update topic configs: " + rootMessage(e));
                        failures++;
                    }
                }
            }
            if (failures > 0) System.exit(1);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
