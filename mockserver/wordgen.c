/* Deterministic generated text: see wordgen.h. */
#include "mockserver/wordgen.h"

#include <string.h>

/* Common English words of 1-6 ASCII letters: each is one token on its own
 * and also with a leading space. */
static const char *const WORDS[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with",
    "be", "by", "on", "not", "he", "I", "this", "are", "or", "his", "from", "at", "which",
    "but", "have", "an", "they", "you", "were", "her", "she", "there", "one", "all", "we",
    "their", "been", "has", "when", "who", "will", "more", "no", "if", "out", "so", "said",
    "what", "up", "its", "about", "into", "than", "them", "can", "only", "other", "new",
    "some", "could", "time", "these", "two", "may", "then", "do", "first", "any", "my",
    "now", "such", "like", "our", "over", "man", "me", "even", "most", "made", "after",
    "also", "did", "many", "before", "must", "back", "years", "where", "much", "your",
    "way", "well", "down", "should", "each", "just", "those", "people", "how", "too",
    "little", "state", "good", "very", "make", "world", "still", "own", "see", "men",
    "work", "long", "get", "here", "both", "life", "being", "under", "never", "day", "same",
    "great", "last", "might", "us", "off", "come", "since", "go", "came", "right", "used",
    "take", "three", "old", "place", "while", "found", "house", "water", "small", "light",
    "night", "hand", "show", "every", "near", "find", "head", "stand", "page", "answer",
    "school", "grow", "study", "learn", "plant", "cover", "food", "sun", "four", "let",
    "keep", "eye", "door", "tree", "cross", "farm", "hard", "start", "story", "saw", "far",
    "sea", "draw", "left", "late", "run", "press", "close", "real", "few", "north", "open",
    "seem", "next", "white", "begin", "got", "walk", "paper", "group", "always", "music",
    "often", "letter", "until", "mile", "river", "car", "feet", "care", "second", "book",
    "carry", "took", "eat", "room", "friend", "began", "idea", "fish", "stop", "once",
    "base", "hear", "horse", "cut", "sure", "watch", "color", "face", "wood", "main",
    "enough", "plain", "girl", "usual", "young", "ready", "above", "ever", "red", "list",
    "though", "feel", "talk", "bird", "soon", "body", "dog", "family", "direct", "pose",
    "leave", "song", "black", "short", "class", "wind", "fly", "fall", "lead", "cry",
    "dark", "note", "wait", "plan", "figure", "star", "box", "noun", "field", "rest",
    "able", "pound", "done", "beauty", "drive", "stood", "front", "teach", "week", "final",
    "gave", "green", "quick", "clear", "ship", "game", "area", "half", "rock", "order",
    "fire", "south", "piece", "told", "knew", "pass", "king", "space", "heard", "best",
    "hour", "better", "true", "during", "whole", "early", "hold", "west", "ground", "reach",
    "fast", "verb", "sing", "listen", "six", "table", "travel", "less", "ten", "simple",
    "toward", "war", "lay", "map", "rain", "rule", "govern", "pull", "cold", "notice",
    "voice", "unit", "power", "town", "fine", "drop", "heat", "sky", "glass", "wall",
    "calm", "quiet", "stone", "tiny", "climb", "cool", "design", "poor", "lot", "test",
    "bottom", "nine", "truck", "noise", "level", "chance", "gather", "shop", "throw",
    "shine", "sound", "wonder", "laugh", "egg", "ride", "cell", "ice", "sleep", "warm",
    "spring", "sail", "silver", "gold", "bright", "lake", "moon", "island", "garden",
    "window", "bread", "cloud", "road", "hill", "forest", "smile", "honest", "gentle",
    "brave", "proud",
};

#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

void wordgen_init(wordgen *g, uint64_t seed, int answer_paris)
{
    prng_seed(&g->rng, seed);
    g->emitted = 0;
    g->answer_paris = answer_paris != 0;
}

size_t wordgen_next(wordgen *g, char *out)
{
    const char *word;
    size_t n = 0, len;

    if (g->emitted == 0 && g->answer_paris)
        word = "Paris";
    else
        word = WORDS[prng_below(&g->rng, N_WORDS)];
    if (g->emitted > 0)
        out[n++] = ' ';
    len = strlen(word);
    memcpy(out + n, word, len);
    n += len;
    out[n] = '\0';
    g->emitted++;
    return n;
}

size_t wordgen_word_count(void)
{
    return N_WORDS;
}

const char *wordgen_word(size_t i)
{
    return i < N_WORDS ? WORDS[i] : NULL;
}
