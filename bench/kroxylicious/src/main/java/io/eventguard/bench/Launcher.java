package io.eventguard.bench;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import io.kroxylicious.proxy.KafkaProxy;
import io.kroxylicious.proxy.config.ConfigParser;
import io.kroxylicious.proxy.config.Configuration;
import io.kroxylicious.proxy.internal.config.Features;

/**
 * Starts the Kroxylicious proxy engine from a YAML configuration file, as
 * the kroxylicious-app command does (which Maven Central does not serve):
 * parse the file with the engine's ConfigParser (also the plugin registry
 * that finds the RecordValidation filter on the class path), start the
 * proxy with the default features, and serve until the process is
 * stopped. Usage: Launcher CONFIG.yaml
 */
public final class Launcher {
    private Launcher() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Launcher CONFIG.yaml");
            System.exit(2);
        }
        ConfigParser parser = new ConfigParser();
        Configuration config;
        try (InputStream in = Files.newInputStream(Path.of(args[0]))) {
            config = parser.parseConfiguration(in);
        }
        try (KafkaProxy proxy = new KafkaProxy(parser, config, Features.defaultFeatures())) {
            proxy.startup();
            System.err.println("kroxylicious-launcher: proxy started");
            proxy.block();
        }
    }
}
