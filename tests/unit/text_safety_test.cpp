// Strings from the traced program reach JSON valid and the terminal harmless (output/text_safety.h).
#include "output/text_safety.h"

#include <gtest/gtest.h>

namespace deftrace {
namespace {

TEST(TextSafety, RecognizesWellFormedUtf8Only) {
    EXPECT_TRUE(is_valid_utf8("plain"));
    EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80")); // é € 😀
    EXPECT_FALSE(is_valid_utf8("bad\xff"));
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));         // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));     // a surrogate
    EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80")); // above U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\xe2\x82"));         // cut short
}

TEST(TextSafety, ReplacesEachInvalidByteWithTheReplacementCharacter) {
    EXPECT_EQ(replace_invalid_utf8("bad\xff"), "bad\xef\xbf\xbd");
    EXPECT_EQ(replace_invalid_utf8("\xfe\xfe"), "\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(replace_invalid_utf8("\xc3\xa9"), "\xc3\xa9");
    EXPECT_EQ(to_hex("bad\xff"), "626164ff");
}

TEST(TextSafety, EscapesWhatATerminalWouldActOn) {
    EXPECT_EQ(terminal_safe("esc\x1b[2J"), "esc\\x1b[2J");
    EXPECT_EQ(terminal_safe("a\nb\tc\rd"), "a\\nb\\tc\\rd");
    EXPECT_EQ(terminal_safe("del\x7f"), "del\\x7f");
    EXPECT_EQ(terminal_safe("csi\xc2\x9b"
                            "31m"),
              "csi\\u009b31m");                            // U+009B
    EXPECT_EQ(terminal_safe("nel\xc2\x85"), "nel\\u0085"); // U+0085
    EXPECT_EQ(terminal_safe("\xe2\x80\xae"
                            "evil"),
              "\\u202eevil");                                                 // U+202E
    EXPECT_EQ(terminal_safe("\xe2\x81\xa6x\xe2\x81\xa9"), "\\u2066x\\u2069"); // isolates
    EXPECT_EQ(terminal_safe("line\xe2\x80\xa8sep"), "line\\u2028sep");        // U+2028
    EXPECT_EQ(terminal_safe("bad\xff"), "bad\\xff");
    EXPECT_EQ(terminal_safe("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac"); // text stays text
    EXPECT_EQ(terminal_safe("a\\b"), "a\\b");
    EXPECT_EQ(terminal_safe("a\\b", true), "a\\\\b");
}

TEST(TextSafety, JsonKeepsTheRawBytesBesideTheReplacedString) {
    nlohmann::ordered_json j = {
        {"kind", "panic"}, {"value", "bad\xff"}, {"panics", {{{"value", "x\xfe"}}}}, {"program", {"ok", "arg\xff"}}};
    make_json_safe(j);
    EXPECT_EQ(j["value"], "bad\xef\xbf\xbd");
    EXPECT_EQ(j["value_hex"], "626164ff");
    EXPECT_EQ(j["panics"][0]["value"], "x\xef\xbf\xbd");
    EXPECT_EQ(j["panics"][0]["value_hex"], "78fe");
    EXPECT_EQ(j["program"][1], "arg\xef\xbf\xbd");
    // An array of strings (a command line): the hex of each, in order.
    EXPECT_EQ(j["program_hex"], nlohmann::ordered_json({"6f6b", "617267ff"}));
    EXPECT_NO_THROW((void)j.dump()); // nlohmann throws on invalid UTF-8
    // Member order is kept, the raw bytes right after their string.
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it)
        keys.push_back(it.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"kind", "value", "value_hex", "panics", "program", "program_hex"}));
}

} // namespace
} // namespace deftrace
