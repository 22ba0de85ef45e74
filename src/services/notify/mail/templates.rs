//! The mail's two parts, from templates compiled into the binary (`templates/mail/`): plain
//! text, and HTML with every value escaped, no remote images and no scripts.

use askama::Template;

/// What one mail says.
#[derive(Clone, Debug)]
pub struct Content {
    /// `[#<id>] <ticket subject>`, one line.
    pub subject: String,
    /// The line that says what happened.
    pub intro: String,
    /// The new message, when the event carries one.
    pub message: Option<String>,
    /// The ticket's page, when `SUPPORTDESK_PUBLIC_URL` is set.
    pub link: Option<String>,
}

#[derive(Template)]
#[template(path = "mail/ticket.txt")]
struct Text<'a> {
    intro: &'a str,
    message: Option<&'a str>,
    link: Option<&'a str>,
    footer: &'a str,
}

#[derive(Template)]
#[template(path = "mail/ticket.html")]
struct Html<'a> {
    subject: &'a str,
    intro: &'a str,
    message: Option<&'a str>,
    link: Option<&'a str>,
    footer: &'a str,
}

const FOOTER: &str = "You receive this because of your part in this ticket. \
                      Ask the support desk to stop these emails.";

/// The plain-text and HTML parts.
pub fn render(content: &Content) -> Result<(String, String), askama::Error> {
    let text = Text {
        intro: &content.intro,
        message: content.message.as_deref(),
        link: content.link.as_deref(),
        footer: FOOTER,
    }
    .render()?;
    let html = Html {
        subject: &content.subject,
        intro: &content.intro,
        message: content.message.as_deref(),
        link: content.link.as_deref(),
        footer: FOOTER,
    }
    .render()?;
    Ok((text, html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_the_message_and_text_keeps_it() {
        let content = Content {
            subject: "[#3] <b>hi</b>".to_owned(),
            intro: "alice@example.com wrote:".to_owned(),
            message: Some("<script>alert(1)</script> & <img src=\"http://x/y.png\">".to_owned()),
            link: Some("https://desk.example.com/tickets/3".to_owned()),
        };
        let (text, html) = render(&content).unwrap_or_default();
        assert!(text.contains("<script>alert(1)</script> & <img"), "{text}");
        assert!(text.contains("Open the ticket: https://desk.example.com/tickets/3"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
        assert!(!html.contains("<b>hi</b>"));
        assert!(html.contains("href=\"https://desk.example.com/tickets/3\""));
    }

    #[test]
    fn no_link_without_a_public_url_and_no_message_for_a_status_change() {
        let content = Content {
            subject: "[#3] x".to_owned(),
            intro: "The status changed from Open to Closed.".to_owned(),
            message: None,
            link: None,
        };
        let (text, html) = render(&content).unwrap_or_default();
        assert!(text.starts_with("The status changed"));
        assert!(!text.contains("Open the ticket"));
        assert!(!html.contains("<a "));
    }
}
