/**
 * How many messages of the conversation on screen are in the DOM at first. A long history shows
 * its newest messages at once and the rest on request, so opening 5,000 messages costs what
 * opening 60 does.
 */
export const MESSAGE_WINDOW = 60;
