//! Fixed word lists and phrasings for [`super`]. The word lists run from the
//! most to the least common in TinyStories (by document frequency), so a
//! word's index is its rarity rank.

/// Common animals, singular.
#[rustfmt::skip]
pub const ANIMALS: &[&str] = &[
    "dog", "bird", "cat", "bear", "fish", "bunny", "rabbit", "mouse", "bug", "frog", "squirrel",
    "kitty", "duck", "butterfly", "lion", "owl", "fox", "bee", "monkey", "elephant", "turtle",
    "puppy", "cow", "ant", "crab", "horse", "dragon", "snake", "pig", "spider", "sheep", "kitten",
    "chicken", "wolf", "dolphin", "shark", "dinosaur", "worm", "caterpillar", "giraffe", "deer",
    "whale", "penguin", "tiger", "zebra", "jellyfish", "goat", "octopus", "goose", "lizard",
    "panda", "swan", "snail", "hippo", "ladybug", "kangaroo", "parrot", "crocodile", "chick",
    "pony", "hedgehog", "donkey", "unicorn",
];

/// Words for people that may describe a named character ("a girl named Lily").
pub const PEOPLE: &[&str] = &["girl", "boy"];

/// Common concrete nouns (no animals).
#[rustfmt::skip]
pub const NOUNS: &[&str] = &[
    "park", "tree", "house", "toy", "room", "sun", "water", "sky", "ball", "box", "garden", "door",
    "car", "forest", "bed", "wind", "grass", "kitchen", "store", "table", "rock", "hat", "pond",
    "slide", "window", "cake", "stick", "rain", "picture", "bag", "dress", "book", "sea", "paper",
    "flower", "song", "truck", "beach", "sand", "hill", "wall", "boat", "swing", "school", "field",
    "bowl", "street", "farm", "doll", "gift", "chair", "castle", "road", "river", "apple", "music",
    "lake", "mud", "bottle", "leaf", "nest", "key", "blanket", "bike", "teddy", "fence", "coat",
    "milk", "cup", "treasure", "pot", "puddle", "bucket", "shop", "star", "basket", "button",
    "snow", "cheese", "bread", "jar", "candy", "juice", "spoon", "cave", "soup", "playground",
    "shirt", "rope", "cloud", "honey", "train", "plate", "balloon", "stone", "lock", "cookie",
    "zoo", "tower", "jungle", "bath", "ring", "soap", "bell", "towel", "ocean", "moon", "brush",
    "wand", "net", "kite", "carrot", "gate", "mirror", "roof", "sandbox", "pillow", "map", "chest",
    "mountain", "block", "shell", "plane", "rocket", "sandwich", "robot", "tent", "wheel", "crayon",
    "scarf", "crown", "sword", "island", "bridge", "coin", "banana", "puzzle", "pencil", "pizza",
    "lamp", "drum", "egg", "bubble", "candle", "shovel", "sticker", "guitar", "clock", "pie",
    "wagon", "feather", "shoe", "sock", "piano", "jewel",
];

/// Common verbs, base form.
#[rustfmt::skip]
pub const VERBS: &[&str] = &[
    "play", "look", "smile", "help", "ask", "see", "try", "thank", "find", "laugh", "walk", "learn",
    "hear", "hug", "take", "feel", "run", "open", "pick", "jump", "share", "call", "eat", "close",
    "watch", "cry", "give", "listen", "wait", "worry", "fly", "hop", "climb", "clean", "explore",
    "shout", "sit", "wave", "push", "touch", "pull", "clap", "catch", "hold", "hide", "fill",
    "promise", "pretend", "sing", "dance", "fix", "rest", "sleep", "chase", "fall", "bark", "roll",
    "swim", "buy", "visit", "shine", "wear", "carry", "wonder", "splash", "save", "read", "smell",
    "teach", "break", "dream", "grow", "race", "bring", "taste", "throw", "build", "ride", "draw",
    "kiss", "answer", "drive", "cut", "stand", "knock", "count", "drink", "trip", "wash", "plant",
    "mix", "paint", "seek", "tie", "kick", "forgive", "cook", "pour", "sail", "discover",
    "celebrate", "slip", "float", "blow", "pack", "roar", "protect", "crawl", "wrap", "sparkle",
    "dig", "bounce", "whisper", "spin", "write", "imagine", "stir", "bake", "melt", "send", "sell",
    "fold", "hurry", "freeze", "decorate", "rescue", "sink", "wiggle",
];

/// Common adjectives.
#[rustfmt::skip]
pub const ADJECTIVES: &[&str] = &[
    "happy", "big", "little", "sad", "small", "new", "excited", "scared", "long", "careful",
    "proud", "pretty", "red", "kind", "fast", "special", "old", "hard", "surprised", "loud",
    "beautiful", "shiny", "angry", "strong", "brave", "soft", "curious", "blue", "yummy", "tired",
    "warm", "bright", "green", "quick", "funny", "full", "friendly", "cold", "tall", "dark", "slow",
    "hungry", "tiny", "magic", "sweet", "yellow", "wet", "hot", "colorful", "smart", "white",
    "heavy", "quiet", "dirty", "brown", "pink", "delicious", "mad", "dry", "silly", "wise",
    "lonely", "busy", "magical", "gentle", "fluffy", "black", "sharp", "tasty", "young", "clever",
    "huge", "calm", "naughty", "shy", "orange", "furry", "smooth", "wild", "purple", "sleepy",
    "empty", "messy", "weak", "sparkly", "tidy", "thirsty", "poor", "rough", "nervous", "ugly",
    "cheerful", "sour", "grumpy", "rich", "fancy", "fresh", "lazy", "fierce", "jolly", "sticky",
    "golden",
];

/// Plurals that the regular inflection rules miss.
pub const IRREGULAR_PLURALS: &[(&str, &str)] = &[
    ("mouse", "mice"),
    ("goose", "geese"),
    ("child", "children"),
    ("foot", "feet"),
    ("tooth", "teeth"),
    ("man", "men"),
    ("woman", "women"),
];

/// Capitalised words that are never character names (compared lower-case).
#[rustfmt::skip]
pub const NOT_NAMES: &[&str] = &[
    "i", "the", "a", "an", "mom", "mommy", "mum", "mummy", "mama", "dad", "daddy", "papa",
    "grandma", "grandpa", "granny", "nana", "grandmother", "grandfather", "mother", "father",
    "aunt", "uncle", "mr", "mrs", "ms", "miss", "dr", "sir", "madam", "god", "king", "queen",
    "prince", "princess", "teacher", "doctor", "officer", "captain", "once", "one", "then", "and",
    "but", "so", "or", "when", "after", "before", "every", "this", "that", "these", "those", "they",
    "he", "she", "it", "we", "you", "his", "her", "their", "my", "your", "our", "there", "here",
    "what", "where", "why", "how", "who", "yes", "no", "not", "oh", "hello", "hi", "hey", "bye",
    "goodbye", "please", "thank", "thanks", "wow", "look", "let", "come", "okay", "ok", "sorry",
    "suddenly", "finally", "soon", "later", "now", "today", "tomorrow", "yesterday", "in", "on",
    "at", "as", "if", "while", "with", "from", "all", "some", "can", "do", "did", "is", "are",
    "was", "were", "will", "would", "christmas", "easter", "halloween", "english", "earth",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
    "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
];

/// Off-topic questions for training.
pub const TRAIN_QUESTIONS: &[&str] = &[
    "What is the capital of France?",
    "What is 12 times 7?",
    "Write a Python function that sorts a list.",
    "Who won the World Cup?",
    "What will the weather be like tomorrow?",
    "What is the latest news today?",
    "How do I fix a flat bike tire?",
    "What is the tallest mountain in the world?",
    "How many legs does a spider have?",
    "Can you explain how computers work?",
    "What is the square root of 144?",
    "Who was the first president of the United States?",
    "How do I bake bread?",
    "What year did the Second World War end?",
    "Translate \"good morning\" into Spanish.",
    "What is the speed of light?",
    "How do I make my code run faster?",
    "Write a JavaScript function that adds two numbers.",
    "What is the best phone to buy?",
    "How far away is the Moon?",
    "What should I eat for dinner tonight?",
    "How do I get a job?",
    "What is photosynthesis?",
    "What is the population of China?",
    "Can you help me with my taxes?",
    "How much is 345 plus 678?",
    "What does DNA stand for?",
    "Who painted the Mona Lisa?",
    "How do airplanes fly?",
    "What is the stock price of Apple?",
    "Give me some tips for losing weight.",
    "What time is it in Tokyo?",
    "How do I learn to play the guitar?",
    "Write an email to my boss asking for a day off.",
    "What is the difference between a virus and a bacterium?",
    "Explain quantum physics in simple words.",
    "What is the boiling point of water?",
    "Should I buy a house or rent one?",
    "How many continents are there?",
    "What is the meaning of life?",
    "Write a SQL query that counts the rows in a table.",
    "Who is the richest person in the world?",
    "Is it going to rain this weekend?",
    "What is the chemical symbol for gold?",
    "How do I reset my password?",
    "What is 100 divided by 4?",
];

/// Off-topic questions kept out of training, for evaluation.
pub const HELD_OUT_QUESTIONS: &[&str] = &[
    "What is the capital of Japan?",
    "What is 9 times 8?",
    "Write a C program that prints hello world.",
    "Who won the last Olympic Games?",
    "Will it be sunny in London tomorrow?",
    "What happened in the news yesterday?",
    "How do I change a car tire?",
    "What is the longest river in the world?",
    "How many bones are in the human body?",
    "How does the internet work?",
    "What is 15 squared?",
    "Who wrote Romeo and Juliet?",
    "How do I cook rice?",
    "When did people first land on the Moon?",
    "How do you say \"thank you\" in French?",
    "How hot is the Sun?",
    "Write a Rust function that reverses a string.",
    "Which laptop should I buy?",
    "What is the distance from the Earth to Mars?",
    "What is a good recipe for a healthy lunch?",
    "How do I write a good resume?",
    "What is gravity?",
    "How many people live in India?",
    "How do I open a bank account?",
    "What is 512 minus 128?",
    "Who discovered penicillin?",
    "How do I install Linux on my computer?",
    "What is the price of bitcoin today?",
    "Can you give me advice about my exam?",
    "What is the largest ocean on Earth?",
];

/// Ways to ask a training question; `{}` is the question.
pub const TRAIN_WRAPPERS: &[&str] = &[
    "{}",
    "Hi! {}",
    "Quick question: {}",
    "{} Thanks!",
    "Please help me. {}",
];

/// Ways to ask a held-out question; `{}` is the question.
pub const HELD_OUT_WRAPPERS: &[&str] = &[
    "{}",
    "Hello there. {}",
    "{} Please answer.",
    "I need to know something. {}",
    "Hey! {}",
];

/// In-character replies to off-topic questions, placed before the story.
pub const OPENERS: &[&str] = &[
    "I am a little storyteller, so I do not know the answer to that. But I can tell you a story!",
    "I only know how to tell stories, so I cannot answer that. Here is a story instead.",
    "I am just a storyteller, and I do not make up facts. Let me tell you a story instead.",
    "Sorry, I only tell stories, so I do not know about that. Here is a story for you.",
    "That is not something a storyteller like me knows about. I do not want to guess, so here is a story!",
    "I can only tell stories, and I do not know real facts. How about a story instead?",
    "Hmm, I am a story helper, not a fact helper. I will not guess, but I can tell you a story.",
    "My job is to tell stories, so I cannot answer questions like that. Here is a little story for you.",
];

/// Requests to continue a story; the beginning follows.
pub const CONTINUE_PHRASES: &[&str] = &[
    "Continue this story:",
    "Finish this story:",
    "Here is the start of a story, please go on:",
    "Please continue the story:",
    "What happens next?",
    "Write the rest of this story:",
    "Keep going with this story:",
];

/// Requests without any constraint.
pub const GENERIC_PROMPTS: &[&str] = &[
    "Tell me a story.",
    "Can you tell me a bedtime story?",
    "Please write a short story.",
    "I want to hear a story.",
    "Write a story for me.",
    "Tell me a little story, please.",
    "story please",
    "Another story!",
    "Could you write me something nice to read before bed?",
    "i need a story for my kid",
    "Make up any story you like.",
    "Surprise me with a story.",
];

/// Sentence frames for a story request: text before and after the body ("a story about ...").
pub const FRAMES: &[(&str, &str)] = &[
    ("Tell me ", "."),
    ("Tell me ", "."),
    ("Write ", "."),
    ("Write ", "."),
    ("Can you make up ", "?"),
    ("Please write ", "."),
    ("I want ", "."),
    ("Could you tell me ", "?"),
    ("Make up ", "."),
    ("I would like ", "."),
    ("Write me ", "."),
    ("Can I have ", "?"),
    ("Can you write ", "?"),
    ("Please tell me ", "."),
    ("Create ", "."),
    ("I'd love to hear ", "."),
    ("Give me ", "."),
    ("Would you write ", "?"),
    ("Will you tell me ", "?"),
    ("Could I get ", "?"),
    ("How about ", "?"),
    ("Let's hear ", "!"),
    ("I need ", "."),
    ("Can you tell me ", "?"),
    ("Please make up ", "."),
    ("Tell ", ", please."),
    ("Could you write ", " for me?"),
    ("Write ", ", please."),
    ("I'm looking for ", "."),
    ("Would you tell me ", "?"),
    ("Can we have ", "?"),
    ("Could you please write ", "?"),
    ("Invent ", "."),
    ("Read me ", "."),
    ("Please, ", "."),
    ("I'd like ", "."),
];

/// How a story request calls the story.
pub const DESCRIPTORS: &[&str] = &[
    "a story",
    "a story",
    "a short story",
    "a little story",
    "a bedtime story",
    "a fun story",
    "a cute story",
    "a story for kids",
];

/// Words that introduce a character's name ("a girl named Mia").
pub const CHARACTER_LINKS: &[&str] = &["named", "named", "called"];

/// Verbs for an object a character has ("Mia who finds a red kite").
pub const OBJECT_VERBS: &[&str] = &[
    "finds", "has", "loses", "wants", "gets", "sees", "makes", "loves",
];

/// Settings: a place noun and how a request places the story there.
pub const PLACES: &[(&str, &str)] = &[
    ("park", "in the park"),
    ("garden", "in the garden"),
    ("forest", "in the forest"),
    ("kitchen", "in the kitchen"),
    ("beach", "at the beach"),
    ("school", "at school"),
    ("farm", "on a farm"),
    ("pond", "by the pond"),
    ("sea", "by the sea"),
    ("lake", "at the lake"),
    ("river", "by the river"),
    ("cave", "in a cave"),
    ("jungle", "in the jungle"),
    ("zoo", "at the zoo"),
    ("playground", "at the playground"),
    ("castle", "in a castle"),
    ("island", "on an island"),
    ("mountain", "on a mountain"),
    ("hill", "on a hill"),
    ("field", "in a field"),
    ("store", "at the store"),
    ("sky", "in the sky"),
    ("ocean", "in the ocean"),
];

/// Inline clauses asking for words; `{}` is the list, `{s}` the plural ending.
pub const WORD_CLAUSES: &[&str] = &[
    " with the word{s} {}",
    " using the word{s} {}",
    " that uses the word{s} {}",
    " including the word{s} {}",
    " with {} in it",
    " that has the word{s} {}",
    " and use the word{s} {}",
    " with the word{s} {} in it",
];

/// Separate sentences asking for words; `{}` is the list, `{s}` the plural ending.
pub const WORD_SENTENCES: &[&str] = &[
    " Use the word{s} {}.",
    " Please include the word{s} {}.",
    " Make sure to use the word{s} {}.",
    " It should use the word{s} {}.",
    " Words: {}.",
    " Include {}.",
    " Try to use the word{s} {}.",
    " Don't forget the word{s} {}.",
    " I want the word{s} {} in it.",
    " Can you use the word{s} {}?",
    " Please use {}.",
    " It needs the word{s} {}.",
    " Add the word{s} {} too.",
    " Use {} in the story.",
];

/// Sentences that say who a story is about; `{}` is the characters.
pub const SUBJECT_SENTENCES: &[&str] = &[
    " It should be about {}.",
    " Make it about {}.",
    " Let it be about {}.",
    " The story should be about {}.",
    " I want it to be about {}.",
    " It is about {}.",
];

/// Greetings before a request.
pub const GREETINGS: &[&str] = &[
    "Hi!",
    "Hello!",
    "Hi there.",
    "Good evening.",
    "Hello friend!",
    "Good morning!",
];

/// Thanks after a request.
pub const SIGN_OFFS: &[&str] = &[" Thanks!", " Thank you.", " Thank you so much!", " :)"];

/// Typing slips in the words around what is asked for: (word, as typed).
pub const TYPOS: &[(&str, &str)] = &[
    ("story", "stroy"),
    ("story", "sotry"),
    ("please", "plese"),
    ("please", "plz"),
    ("about", "abuot"),
    ("about", "abut"),
    ("write", "wirte"),
    ("Write", "Wrte"),
    ("Tell", "Tel"),
    ("tell", "tel"),
    ("little", "litle"),
    ("words", "wrods"),
    ("with", "wiht"),
    ("the", "teh"),
];

/// Names a follow-up may rename a character to.
#[rustfmt::skip]
pub const NAMES: &[&str] = &[
    "Mia", "Max", "Lily", "Tom", "Ben", "Sue", "Sam", "Anna", "Lucy", "Jack", "Tim", "Sara",
    "Emma", "Leo", "Zoe", "Bella", "Jake", "Ella", "Kate", "Mike", "Rosie", "Ollie", "Daisy",
    "Milo", "Luna", "Toby", "Molly", "Amy", "Dan", "Eva", "Kim", "Pip", "Rex", "Coco", "Penny",
    "Billy", "Sally", "Jenny", "Joe", "Timmy", "Sophie", "Lola", "Buddy", "Spot", "Fluffy",
    "Bob", "Jill", "Ned", "Rita", "Ted", "Roxy", "Benny", "Lulu", "Fred", "Polly", "Kitty",
    "Bunny", "Nina", "Alex", "Chloe",
];

/// Made-up names for renames, an onset and an ending ("Kara", "Tilo", "Mason"): a rename
/// to a name the stories never use can only be done by copying it from the request.
pub const NAME_ONSETS: &[&str] = &[
    "Ba", "Be", "Bo", "Da", "De", "Di", "Fa", "Fe", "Ga", "Gi", "Ja", "Ka", "Ke", "Ki", "La", "Le",
    "Li", "Lo", "Ma", "Me", "Mi", "Mo", "Na", "Ne", "Ni", "Pa", "Pe", "Po", "Ra", "Re", "Ri", "Ro",
    "Sa", "Se", "Si", "So", "Ta", "Te", "Ti", "To", "Va", "Vi", "Wa", "Ya", "Za", "Zi",
];
pub const NAME_ENDINGS: &[&str] = &[
    "ra", "na", "la", "ri", "ni", "li", "no", "lo", "ro", "ko", "ma", "mi", "ta", "to", "ly",
    "ssa", "ndo", "lia", "rin", "lan", "son",
];
/// Onset-and-ending pairs that are words, not names.
pub const NOT_NEW_NAMES: &[&str] = &[
    "Data", "Mama", "Mini", "Solo", "Polo", "Nana", "Kilo", "Lama", "Tata", "Mona", "Soma", "Pali",
    "Rota", "Sari", "Tola", "Salo",
];

/// Follow-ups asking to rename a character: `{old}` and `{new}` are the names.
pub const RENAME_WORDINGS: &[&str] = &[
    "Call {old} {new} instead.",
    "Can you change {old}'s name to {new}?",
    "Change the name {old} to {new}.",
    "Use the name {new} instead of {old}.",
    "Make it {new} instead of {old}.",
    "Rename {old} to {new}, please.",
    "Please call {old} {new}.",
    "Same story, but {old} should be called {new}.",
    "{new} instead of {old}, please.",
    "Can {old} be named {new}?",
    "change {old} to {new}",
    "Let's call {old} {new} instead.",
    "I want {old} to be called {new}.",
    "Tell it again with {new} instead of {old}.",
];

/// Renames that say what the character is: `{kind}` is "dog", "girl"…
pub const RENAME_KIND_WORDINGS: &[&str] = &[
    "Call the {kind} {new} instead.",
    "Can the {kind} be called {new}?",
    "Name the {kind} {new}.",
    "I want the {kind} to be named {new}, not {old}.",
];

/// Follow-ups asking for a word in the same story; `{}` is the word.
pub const ADD_WORD_WORDINGS: &[&str] = &[
    "Now add the word {}.",
    "Please use the word {} too.",
    "Can you add {} to the story?",
    "Can it also have {} in it?",
    "Add {} as well.",
    "Also use the word {}.",
    "Same story, but with the word {}.",
    "I want the word {} in it too.",
    "Include {} too, please.",
    "Could you work the word {} into it?",
    "add {}",
    "Tell it again and use the word {}.",
];

/// Follow-ups asking for another story about the same character; `{}` is the name.
pub const SAME_CHARACTER_WORDINGS: &[&str] = &[
    "Tell me another story about {}.",
    "One more story about {}, please.",
    "Another one with {}!",
    "Can I have a new story about {}?",
    "Write a different story about {}.",
    "More about {}, please.",
    "another {} story",
    "Now a new story with {} in it.",
];

/// Follow-ups asking to go on with the story.
pub const GO_ON_WORDINGS: &[&str] = &[
    "Continue the story.",
    "What happens next?",
    "Keep going!",
    "And then?",
    "Go on, please.",
    "Tell me more.",
    "Please continue.",
    "What happened after that?",
    "More please!",
    "continue",
];
